using System.Text.RegularExpressions;
using Affinetes.Injector.Building;
using Affinetes.Injector.Sources;
using Affinetes.Protocol;
using Affinetes.Testing;
using Docker.DotNet.Models;
using Docker.DotNet;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>
/// A real <c>ssh://</c> Docker host: the test sshd of <c>scripts/setup-ssh.sh</c> (127.0.0.1:2222, host key checked)
/// in front of this machine's own engine. Builds the python-arith example once under a unique <c>affinetes-test/</c>
/// tag and deletes it, and any container left of it, afterwards.
/// </summary>
public sealed partial class SshEngineFixture : IAsyncLifetime
{
    public const string SshDirectory = "/var/lib/affinetes-ssh";
    public const string HostAlias = "affinetes-test-ssh";

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-sshtest-");

    /// <summary>The Docker host as a validator names it; the alias resolves through the ssh configuration.</summary>
    public static string Host => $"ssh://root@{HostAlias}";

    public static string SshConfigFile => Path.Combine(SshDirectory, "ssh_config");

    /// <summary>The local engine, which is also the one behind the ssh host: to inspect what the tests started.</summary>
    public DockerClient Docker { get; } = DockerEngine.CreateClient();

    public string Image { get; } = $"affinetes-test/python-arith-ssh:{Guid.NewGuid():N}";

    public async Task InitializeAsync()
    {
        if (!File.Exists(SshConfigFile))
        {
            throw new InvalidOperationException($"{SshConfigFile} is missing: run scripts/setup-ssh.sh (the test sshd on 127.0.0.1:2222)");
        }
        await DockerEngine.RequireImageAsync(Docker, DockerEngine.PythonBaseImage);
        var source = EnvironmentSource.Parse(Path.Combine(RepositoryRoot.Path, "environments", "python-arith"));
        await new ImageBuilder(Docker).BuildAsync(source, new BuildOptions { Tag = Image, Quiet = true })
            .Within(TimeSpan.FromMinutes(5), "building environments/python-arith");
    }

    /// <summary>
    /// A private copy of the test sshd's client configuration, so that the ssh processes a test starts are found by
    /// their <c>-F</c> path. <paramref name="knownHostsLine"/>, when given, replaces the known host key.
    /// </summary>
    public string WriteSshConfig(string? knownHostsLine = null)
    {
        var directory = _work.CreateSubdirectory(Guid.NewGuid().ToString("N")).FullName;
        var text = File.ReadAllText(SshConfigFile);
        if (knownHostsLine is not null)
        {
            var knownHosts = Path.Combine(directory, "known_hosts");
            File.WriteAllText(knownHosts, knownHostsLine + "\n");
            text = KnownHostsSetting().Replace(text, "UserKnownHostsFile " + knownHosts);
        }
        var config = Path.Combine(directory, "ssh_config");
        File.WriteAllText(config, text);
        File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite); // ssh refuses a config others can write
        return config;
    }

    /// <summary>Process ids of the ssh clients running with <c>-F <paramref name="configFile"/></c>.</summary>
    public static IReadOnlyList<int> SshProcesses(string configFile)
    {
        var pids = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            string[] args;
            try
            {
                args = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // the process ended meanwhile
            }
            if (Path.GetFileName(args[0]) == "ssh" && args.Contains(configFile))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    /// <summary>Every container (running or not) the client started from <see cref="Image"/>.</summary>
    public Task<IList<ContainerListResponse>> ContainersOfImageAsync() =>
        Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Image}={Image}"] = true },
            },
        });

    public async Task DisposeAsync()
    {
        try
        {
            foreach (var container in await ContainersOfImageAsync())
            {
                await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
            }
            await Docker.Images.DeleteImageAsync(Image, new ImageDeleteParameters { Force = true, NoPrune = true });
        }
        catch (DockerApiException)
        {
        }
        Docker.Dispose();
        _work.Delete(recursive: true);
    }

    [GeneratedRegex(@"UserKnownHostsFile\s+\S+")]
    private static partial Regex KnownHostsSetting();
}

[CollectionDefinition(Name)]
public sealed class SshEngineCollection : ICollectionFixture<SshEngineFixture>
{
    public const string Name = "ssh-engine";
}
