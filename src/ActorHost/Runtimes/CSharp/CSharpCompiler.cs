using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>
/// Compiles an actor's sources with Roslyn into an assembly image. The only type of the host that touches Roslyn, so
/// that a host serving Python, or a C# actor from its compile cache, never loads the compiler.
/// </summary>
internal static class CSharpCompiler
{
    /// <summary>The usings every actor file has, as the .NET SDK's implicit usings give a project (plus JSON and the actor API).</summary>
    public static readonly IReadOnlyList<string> ImplicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading",
        "System.Threading.Tasks", "System.Text.Json", "System.Text.Json.Nodes", "Affinetes.Actors",
    ];

    /// <summary>Assemblies from the host an actor compiles against besides System.* (the framework).</summary>
    private static readonly HashSet<string> OfferedAssemblies = new(StringComparer.OrdinalIgnoreCase)
    {
        "mscorlib", "netstandard", "Microsoft.CSharp", "Microsoft.VisualBasic", "Microsoft.Win32.Primitives", "Microsoft.Win32.Registry",
        "OpenAI", "Affinetes.Actors",
    };

    /// <summary>The compiled assembly, or <see cref="ActorStartupException"/> listing every error as <c>file:line:col: message</c>.</summary>
    public static byte[] Compile(ActorSources sources)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = sources.SourceFiles
            .Select(file => CSharpSyntaxTree.ParseText(File.ReadAllText(file), parse, path: file, encoding: Encoding.UTF8))
            .Append(CSharpSyntaxTree.ParseText(string.Concat(ImplicitUsings.Select(u => $"global using {u};\n")), parse, path: "ImplicitUsings.g.cs"))
            .ToList();
        var compilation = CSharpCompilation.Create(sources.AssemblyName, trees, References(sources), new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            optimizationLevel: OptimizationLevel.Release,
            nullableContextOptions: NullableContextOptions.Enable,
            allowUnsafe: true,
            concurrentBuild: true));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        if (!emitted.Success)
        {
            var errors = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(Describe).ToList();
            throw new ActorStartupException($"{Path.GetFileName(sources.MainFile)} does not compile ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):\n{string.Join('\n', errors)}");
        }
        return image.ToArray();
    }

    /// <summary><c>/app/Actor.cs:12:5: error CS1002: ; expected</c>.</summary>
    private static string Describe(Diagnostic diagnostic)
    {
        var span = diagnostic.Location.GetMappedLineSpan();
        var where = span.IsValid ? $"{span.Path}:{span.StartLinePosition.Line + 1}:{span.StartLinePosition.Character + 1}: " : "";
        return $"{where}error {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    /// <summary>The framework, the OpenAI SDK and the actor API from the host, plus the actor's own libraries.</summary>
    private static IEnumerable<MetadataReference> References(ActorSources sources)
    {
        var platform = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var offered = platform.Where(path =>
        {
            var name = Path.GetFileNameWithoutExtension(path);
            return name.StartsWith("System", StringComparison.Ordinal) || OfferedAssemblies.Contains(name);
        });
        return offered.Concat(sources.Libraries).Select(path => MetadataReference.CreateFromFile(path));
    }
}
