using System.Text.RegularExpressions;
using Affinetes.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Every C# block of the ValidatorClient README compiles against the library as it is, so the page cannot drift.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed partial class ReadmeSnippetTests
{
    public static TheoryData<int> Snippets() => [.. Enumerable.Range(0, Blocks().Count)];

    private static List<string> Blocks() =>
        [.. CSharpBlock().Matches(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Readmes", "ValidatorClient.md"))).Select(m => m.Groups[1].Value)];

    [Fact]
    public void TheReadme_HasCSharpBlocks() => Assert.True(Blocks().Count >= 2);

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Snippet_Compiles(int index)
    {
        var source = Blocks()[index];
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .DistinctBy(Path.GetFileName)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create($"Snippet{index}",
            [CSharpSyntaxTree.ParseText(ImplicitUsings + source, new CSharpParseOptions(LanguageVersion.Latest))],
            references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var assembly = new MemoryStream();
        var emitted = compilation.Emit(assembly);
        var errors = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.True(emitted.Success, $"README block {index} does not compile:\n{string.Join('\n', errors)}\n---\n{source}");
    }

    /// <summary>What a new console project has in scope without a using (the SDK's implicit usings).</summary>
    private const string ImplicitUsings = "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; " +
        "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;\n";

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
