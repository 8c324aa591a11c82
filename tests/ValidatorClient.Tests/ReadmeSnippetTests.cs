using System.Text.RegularExpressions;
using Affinetes.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Every C# block of the READMEs (the repository's and the ValidatorClient's) compiles against the library as it is, so the pages cannot drift.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed partial class ReadmeSnippetTests
{
    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var readme in Readmes)
        {
            foreach (var index in Enumerable.Range(0, Blocks(readme).Count))
            {
                data.Add(readme, index);
            }
        }
        return data;
    }

    private static readonly string[] Readmes = ["Repository.md", "ValidatorClient.md"];

    private static List<string> Blocks(string readme) =>
        [.. CSharpBlock().Matches(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Readmes", readme))).Select(m => m.Groups[1].Value)];

    [Theory]
    [InlineData("Repository.md", 2)]
    [InlineData("ValidatorClient.md", 2)]
    public void TheReadme_HasCSharpBlocks(string readme, int atLeast) => Assert.True(Blocks(readme).Count >= atLeast);

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Snippet_Compiles(string readme, int index)
    {
        var source = Blocks(readme)[index];
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
        Assert.True(emitted.Success, $"{readme} block {index} does not compile:\n{string.Join('\n', errors)}\n---\n{source}");
    }

    /// <summary>What a new console project has in scope without a using (the SDK's implicit usings).</summary>
    private const string ImplicitUsings = "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; " +
        "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;\n";

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
