using Affinetes.Afs.Evaluation;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>The live progress bar without colour (NO_COLOR): done and to-do in different characters.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ProgressDisplayTests
{
    [Theory]
    [InlineData(0, "░░░░░░░░░░")]
    [InlineData(50, "█████░░░░░")]
    [InlineData(100, "██████████")]
    [InlineData(140, "██████████")]
    public void TheBarWithoutColour_ShowsDoneAndToDoApart(double percentage, string bar) =>
        Assert.Equal(bar, ProgressDisplay.CharacterBarColumn.Draw(percentage, 10));
}
