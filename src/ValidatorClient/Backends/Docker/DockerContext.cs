using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Affinetes.ValidatorClient.Backends.Docker;

/// <summary>
/// Which Docker engine to use when none is named, as the docker CLI (and testcontainers) decide: <c>$DOCKER_HOST</c>;
/// else the context named by <c>$DOCKER_CONTEXT</c>, else the config's <c>currentContext</c> (<c>$DOCKER_CONFIG</c>,
/// default <c>~/.docker</c>), read from its metadata (<c>contexts/meta/SHA256(NAME)/meta.json</c>); else the local
/// socket. The context <c>default</c> is the local socket.
/// </summary>
public static class DockerContext
{
    /// <summary>The engine to use when none is named: a <see cref="Environments.DockerOptions.Hosts"/> entry.</summary>
    public static string DefaultEngine() => DefaultEngine(System.Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="DefaultEngine()"/>, reading variables through <paramref name="variable"/> (tests).</summary>
    public static string DefaultEngine(Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(variable);
        if (variable("DOCKER_HOST") is { Length: > 0 } host)
        {
            return host;
        }
        var config = variable("DOCKER_CONFIG") is { Length: > 0 } configured
            ? configured
            : Path.Combine(variable("HOME") is { Length: > 0 } home ? home : System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".docker");
        var context = variable("DOCKER_CONTEXT") is { Length: > 0 } named ? named : CurrentContext(config);
        if (context is null or "default")
        {
            return "local";
        }
        return ContextEndpoint(config, context)
            ?? throw new Environments.EnvironmentOptionsException(
                $"docker context '{context}' {(variable("DOCKER_CONTEXT") is { Length: > 0 } ? "(from $DOCKER_CONTEXT)" : $"(the current context in {Path.Combine(config, "config.json")})")} " +
                $"is not in {Path.Combine(config, "contexts", "meta")} or has no docker endpoint; `docker context ls` lists the contexts, `docker context use default` goes back to the local engine");
    }

    private static string? CurrentContext(string config)
    {
        var path = Path.Combine(config, "config.json");
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.TryGetProperty("currentContext", out var current) && current.ValueKind == JsonValueKind.String
                && current.GetString() is { Length: > 0 } name ? name : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null; // no config, or one the docker CLI would not read either: the local engine
        }
    }

    private static string? ContextEndpoint(string config, string context)
    {
        var directory = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(context)));
        var path = Path.Combine(config, "contexts", "meta", directory, "meta.json");
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.TryGetProperty("Endpoints", out var endpoints)
                && endpoints.TryGetProperty("docker", out var docker)
                && docker.TryGetProperty("Host", out var host) && host.ValueKind == JsonValueKind.String
                && host.GetString() is { Length: > 0 } endpoint ? endpoint : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }
}
