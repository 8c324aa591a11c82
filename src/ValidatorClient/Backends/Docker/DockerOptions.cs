namespace Affinetes.ValidatorClient.Environments;

/// <summary>
/// Docker mode (<see cref="EnvironmentMode.Docker"/>): the engines, how containers are created, confined and
/// networked. The other modes start no container, so they leave these at their defaults: url and basilica modes
/// refuse a network other than open and the host network.
/// </summary>
public sealed record DockerOptions
{
    /// <summary>Docker engines to spread replicas over: <c>local</c>, <c>unix:///path</c>, <c>tcp://host:2375</c>, <c>ssh://user@host[:port]</c>.</summary>
    public IReadOnlyList<string> Hosts { get; init; } = ["local"];

    /// <summary>An ssh configuration file for <c>ssh://</c> hosts (passed as <c>ssh -F</c>); default: the user's own.</summary>
    public string? SshConfigFile { get; init; }

    /// <summary>Remove and recreate a container of the same name even when its spec matches.</summary>
    public bool ForceRecreate { get; init; }

    /// <summary>When the image is pulled before containers start (by default only when the engine lacks it).</summary>
    public PullPolicy Pull { get; init; } = PullPolicy.Missing;

    /// <summary>Run containers in the engine host's network (the actor then listens on a free port of 127.0.0.1).</summary>
    public bool HostNetwork { get; init; }

    /// <summary>How containers are confined (hardened by default; see <see cref="ContainerHardening"/> for the defaults and relaxations).</summary>
    public ContainerHardening Hardening { get; init; } = new();

    /// <summary>
    /// What the containers may reach. <see cref="ContainerNetwork.Open"/> (default), or
    /// <see cref="ContainerNetwork.Isolated"/>: no network, the host reached through a unix socket, the LLM only
    /// through the gateway (<see cref="EnvironmentOptions.Llm"/>); <see cref="ContainerNetwork.AllowList"/> adds HTTPS to named hosts.
    /// </summary>
    public ContainerNetwork Network { get; init; } = ContainerNetwork.Open;

    /// <summary>Adds every problem of these settings alone to <paramref name="errors"/>; how they combine with the mode and the LLM is the environment's to check.</summary>
    internal void CollectErrors(List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(Hosts);
        ArgumentNullException.ThrowIfNull(Hardening);
        ArgumentNullException.ThrowIfNull(Network);
        if (Hosts.Count == 0)
        {
            errors.Add("hosts is empty; use [\"local\"] or name Docker engines");
        }
        Hardening.CollectErrors(errors);
    }
}
