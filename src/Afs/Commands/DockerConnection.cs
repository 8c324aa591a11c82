using Docker.DotNet;

namespace Affinetes.Afs.Commands;

/// <summary>The Docker engine afs talks to: <c>DOCKER_HOST</c> when set, else the local socket.</summary>
internal static class DockerConnection
{
    public static DockerClient Create()
    {
        var endpoint = Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : "unix:///var/run/docker.sock";
        return new DockerClientConfiguration(new Uri(endpoint)).CreateClient();
    }
}
