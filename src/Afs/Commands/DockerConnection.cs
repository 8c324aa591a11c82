using Docker.DotNet;

namespace Affinetes.Afs.Commands;

/// <summary>The Docker engine afs talks to: <c>DOCKER_HOST</c> when set, else the local socket.</summary>
internal static class DockerConnection
{
    /// <summary>The engine as the ValidatorClient names it: <c>DOCKER_HOST</c> when set, else <c>local</c>.</summary>
    public static string EngineSpec => Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : "local";

    /// <summary>Where the engine is, for messages.</summary>
    public static string Endpoint => Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : "unix:///var/run/docker.sock";

    public static DockerClient Create() => new DockerClientConfiguration(new Uri(Endpoint)).CreateClient();
}
