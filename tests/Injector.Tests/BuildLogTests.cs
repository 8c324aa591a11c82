using Affinetes.Injector.Building;
using Affinetes.Testing;

namespace Affinetes.Injector.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class BuildLogTests
{
    [Fact]
    public void KeepsTheCurrentStepsOwnOutput_WithoutTheBuildersNoiseOrColours()
    {
        var log = new BuildLog();
        var shown = log.Add("Step 1/3 : FROM python:3.11-slim\n ---> 333c58f647bc\nStep 2/3 : RUN pip install numpy\n ---> Running in 1f2e3d\n")
            .Concat(log.Add("\u001b[91mCollecting numpy\n\u001b[0mERROR: No matching distribution found for numpy\r\n"))
            .Concat(log.Add("Removing intermediate container 1f2e3d\n"))
            .ToList();
        Assert.Equal(["Step 1/3 : FROM python:3.11-slim", "Step 2/3 : RUN pip install numpy", "Collecting numpy", "ERROR: No matching distribution found for numpy"], shown);
        Assert.Equal("Step 2/3 : RUN pip install numpy", log.CurrentStep);
        Assert.Equal(["Collecting numpy", "ERROR: No matching distribution found for numpy"], log.StepOutput);
        Assert.True(log.DownloadFailed("The command '/bin/sh -c pip install numpy' returned a non-zero code: 1"));
    }

    [Fact]
    public void AFailureThatIsNotADownload_SaysNothingOfTheNetwork()
    {
        var log = new BuildLog();
        _ = log.Add("Step 2/2 : RUN python3 -c 'raise SystemExit(3)'\n").ToList();
        Assert.False(log.DownloadFailed("The command returned a non-zero code: 3"));
    }

    [Fact]
    public void ANewStep_ForgetsTheOutputOfTheLast()
    {
        var log = new BuildLog();
        _ = log.Add("Step 1/2 : RUN echo one\none\nStep 2/2 : RUN echo two\ntwo\n").ToList();
        Assert.Equal(["two"], log.StepOutput);
    }
}
