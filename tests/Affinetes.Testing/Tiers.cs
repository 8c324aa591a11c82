namespace Affinetes.Testing;

/// <summary>
/// Test tiers, used as <c>[Trait(Tiers.Name, Tiers.Unit)]</c> so that <c>dotnet test --filter "Tier=Unit"</c> (or
/// <c>"Tier!=Docker"</c>) runs the fast tiers alone.
/// </summary>
public static class Tiers
{
    public const string Name = "Tier";
    /// <summary>Pure code, no process, socket or container.</summary>
    public const string Unit = "Unit";
    /// <summary>In-process servers over real HTTP on 127.0.0.1 (Kestrel, embedded CPython).</summary>
    public const string Host = "Host";
    /// <summary>A real Docker engine: images are built and containers run.</summary>
    public const string Docker = "Docker";
}
