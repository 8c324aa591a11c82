using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>Docker mode on an <c>ssh://user@host</c> engine, through a real sshd whose host key is checked.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(SshEngineCollection.Name)]
public sealed class SshEngineTests(SshEngineFixture fixture)
{
    /// <summary>A valid ed25519 key that is not the test sshd's.</summary>
    private const string OtherHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATqXR7M4XVnAjrkyojR6gjw/oqiVyh9DftkVG0BlxyI";

    private EnvironmentOptions Options(string sshConfig) => new()
    {
        Image = fixture.Image,
        Docker = new DockerOptions { Hosts = [SshEngineFixture.Host], SshConfigFile = sshConfig },
        ReadyTimeout = TimeSpan.FromSeconds(90),
    };

    [Fact]
    public async Task LoadEnv_OnSshHost_CallsThroughForwardedLoopbackPort_AndDisposeRemovesContainerAndEndsSsh()
    {
        var sshConfig = fixture.WriteSshConfig();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var env = await AffinetesClient.LoadEnvAsync(Options(sshConfig), deadline.Token)
            .Within(TimeSpan.FromMinutes(2), "loading the environment on the ssh host");
        string containerId;
        try
        {
            var replica = Assert.Single(env.Replicas);
            containerId = replica.Id;
            Assert.Equal("127.0.0.1", replica.BaseUrl.Host);
            Assert.Contains(SshEngineFixture.Host, replica.Description, StringComparison.Ordinal);

            // The container publishes on the engine host's 127.0.0.1; the client reaches it through its own ssh forward.
            var container = await fixture.Docker.Containers.InspectContainerAsync(containerId).Within(what: "inspecting the container");
            var published = Assert.Single(container.NetworkSettings!.Ports!["8000/tcp"]);
            Assert.Equal("127.0.0.1", published.HostIP);
            Assert.NotEqual(published.HostPort, replica.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Single(SshEngineFixture.SshProcesses(sshConfig)); // the one master connection

            var task = await env.CallAsync("generate", kwargs: new Dictionary<string, object?> { ["task_id"] = 1 }, cancellationToken: deadline.Token)
                .Within(what: "generate(task_id=1) on the ssh host");
            Assert.Equal(1, task.GetProperty("task_id").GetInt32());
            Assert.Equal(0, task.GetProperty("seed").GetInt32());
            Assert.StartsWith("Dara has 82 coins.", task.GetProperty("prompt").GetString(), StringComparison.Ordinal);
            Assert.Equal(20, task.GetProperty("expected").GetInt32());
        }
        finally
        {
            await env.DisposeAsync().AsTask().Within(what: "disposing the environment");
        }

        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => fixture.Docker.Containers.InspectContainerAsync(containerId))
            .Within(what: "inspecting the removed container");
        Assert.Empty(SshEngineFixture.SshProcesses(sshConfig));
    }

    [Fact]
    public async Task LoadEnv_SshHostPresentingAnotherHostKey_FailsWithHostKeyVerification_AndLeavesNothingRunning()
    {
        var sshConfig = fixture.WriteSshConfig(knownHostsLine: $"[127.0.0.1]:2222 {OtherHostKey}");
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        var error = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => AffinetesClient.LoadEnvAsync(Options(sshConfig), deadline.Token))
            .Within(TimeSpan.FromMinutes(1), "loading the environment on an ssh host with the wrong key");

        Assert.Contains("Host key verification failed", error.Message, StringComparison.Ordinal);
        Assert.Contains(SshEngineFixture.Host, error.Message, StringComparison.Ordinal);
        Assert.Empty(SshEngineFixture.SshProcesses(sshConfig));
        Assert.Empty(await fixture.ContainersOfImageAsync().Within(what: "listing containers"));
    }
}
