using System.Diagnostics;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Docker.DotNet.Models;

namespace Affinetes.ValidatorClient.Tests;

[Trait(Tiers.Name, Tiers.Docker)]
[Collection(DockerModeCollection.Name)]
public sealed class DockerModeTests(DockerModeFixture fixture)
{
    private static Task<IEnvironment> LoadAsync(EnvironmentOptions options) =>
        AffinetesClient.LoadEnvAsync(options).Within(TimeSpan.FromMinutes(2), $"loading {options.Image}");

    private static Dictionary<string, object?> Kw(params (string, object?)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [Fact]
    public async Task SingleReplica_ServesCalls_OnLoopbackOnly_AndIsRemovedOnDispose()
    {
        string containerId;
        await using (var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ArithImage }))
        {
            var task = await env.CallAsync("generate", kwargs: Kw(("task_id", 1))).Within();
            Assert.Equal(JsonValueKind.Number, task.GetProperty("expected").ValueKind);
            Assert.False(string.IsNullOrEmpty(task.GetProperty("prompt").GetString()));

            var replica = Assert.Single(env.Replicas);
            Assert.Equal("127.0.0.1", replica.BaseUrl.Host);
            containerId = replica.Id;
            var inspected = await fixture.Docker.Containers.InspectContainerAsync(containerId);
            Assert.Equal("127.0.0.1", inspected.HostConfig!.PortBindings![HostEnvironment.ContainerPort][0].HostIP);
            Assert.Equal(RestartPolicyKind.No, inspected.HostConfig!.RestartPolicy!.Name);
            Assert.Equal(ContainerLabels.OwnerValue, inspected.Config!.Labels![ContainerLabels.Owner]);
            Assert.Equal(fixture.ArithImage, inspected.Config.Labels[ContainerLabels.Image]);
            Assert.True(inspected.Config.Labels.ContainsKey(ContainerLabels.Session));
            Assert.True(inspected.Config.Labels.ContainsKey(ContainerLabels.Created));

            // The host logs a call once its answer is sent, and the engine collects the line a moment later.
            await Bounded.Until(async () =>
            {
                var lines = new List<ReplicaLogLine>();
                await foreach (var line in env.ReadLogsAsync(follow: false))
                {
                    lines.Add(line);
                }
                return lines.Any(l => l.Line.Contains("call generate 200", StringComparison.Ordinal) && l.Replica == replica.Description);
            }, TimeSpan.FromSeconds(10), "the container's log showing the call");
        }
        Assert.DoesNotContain(await fixture.ContainersOfAsync(fixture.ArithImage), c => c.ID == containerId);
    }

    [Fact]
    public async Task CancelledAtAnyPointOfStarting_LeavesNoContainerBehind()
    {
        // Sweep the cancellation across the whole start: engine connection, create (in flight), start, readiness.
        var name = $"cancel-sweep-{Guid.NewGuid():N}"[..24];
        var cancelledRuns = 0;
        for (var delayMs = 0; delayMs <= 500; delayMs += 25)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(delayMs));
            try
            {
                await using var env = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions { Image = fixture.ArithImage, ContainerName = name, Replicas = 2 }, cts.Token)
                    .Within(TimeSpan.FromMinutes(1), $"loading with cancellation after {delayMs} ms");
            }
            catch (OperationCanceledException)
            {
                cancelledRuns++;
            }
            var left = (await fixture.ContainersOfAsync(fixture.ArithImage)).Where(c => c.Names.Any(n => n.TrimStart('/').StartsWith(name, StringComparison.Ordinal))).ToList();
            Assert.True(left.Count == 0, $"cancelled after {delayMs} ms, left behind: {string.Join(", ", left.Select(c => $"{c.Names[0]} ({c.State})"))}");
        }
        Assert.True(cancelledRuns >= 5, $"only {cancelledRuns} of the runs were cancelled while starting; the sweep does not cover the start");
    }

    [Fact]
    public async Task DynamicSyntax_WorksOverDocker()
    {
        dynamic env = await LoadAsync(new EnvironmentOptions { Image = fixture.ArithImage });
        try
        {
            JsonElement first = await env.generate(task_id: 5, _timeout: 30);
            JsonElement again = await env.generate(5);
            Assert.Equal(first.GetProperty("prompt").GetString(), again.GetProperty("prompt").GetString());
        }
        finally
        {
            await env.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThreeReplicas_OneKilledUnderLoad_EveryCallAnswered_AndTheDeadOneReplaced()
    {
        await using var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage, Replicas = 3, LoadBalance = LoadBalance.LeastBusy });
        var original = env.Replicas.Select(r => r.Id).ToHashSet();
        Assert.Equal(3, original.Count);
        var victim = env.Replicas[1].Id;

        using var gate = new SemaphoreSlim(24);
        var calls = new List<Task<JsonElement>>();
        for (var i = 0; i < 400; i++)
        {
            await gate.WaitAsync().Within();
            var tag = $"t{i}";
            calls.Add(Task.Run(async () =>
            {
                try
                {
                    return await env.CallAsync("sleep", kwargs: Kw(("ms", 10), ("tag", tag)), timeout: TimeSpan.FromSeconds(30));
                }
                finally
                {
                    gate.Release();
                }
            }));
            if (i == 100)
            {
                await fixture.Docker.Containers.KillContainerAsync(victim, new ContainerKillParameters { Signal = "SIGKILL" });
            }
        }
        var results = await Task.WhenAll(calls).Within(TimeSpan.FromMinutes(2), "400 calls with a replica killed");
        Assert.Equal(400, results.Select(r => r.GetProperty("tag").GetString()).Distinct().Count());

        await Bounded.Until(() => Task.FromResult(env.GetStats().Count(s => s.Healthy) == 3 && !env.Replicas.Any(r => r.Id == victim)),
            TimeSpan.FromSeconds(60), "the killed replica being replaced");
        Assert.Equal(2, env.Replicas.Count(r => original.Contains(r.Id)));
        var replacement = env.Replicas.Single(r => !original.Contains(r.Id));
        Assert.Equal(1, (await env.CallAsync("echo", [1]).Within()).GetProperty("x").GetInt32());
        var running = (await fixture.ContainersOfAsync(fixture.ClientImage)).Where(c => c.State == "running").Select(c => c.ID).ToHashSet();
        Assert.Contains(replacement.Id, running);
    }

    [Fact]
    public async Task ActorAllocatingPastTheMemoryLimit_ItsReplicaIsKilled_AndReplaced()
    {
        await using var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage, MemLimit = "256Mi" });
        var victim = env.Replicas[0].Id;
        await Assert.ThrowsAnyAsync<AffinetesException>(() => env.CallAsync("hog", kwargs: Kw(("mb", 2048)), timeout: TimeSpan.FromSeconds(60)))
            .Within(TimeSpan.FromSeconds(90), "the call whose replica the kernel killed");
        await Bounded.Until(() => Task.FromResult(env.Replicas.Count == 1 && env.Replicas[0].Id != victim && env.GetStats().All(s => s.Healthy)),
            TimeSpan.FromSeconds(60), "the killed replica being replaced");
        Assert.Equal(3, (await env.CallAsync("echo", [3]).Within()).GetProperty("x").GetInt32());
    }

    [Fact]
    public async Task ThreeReplicas_AreBalancedRoundRobin()
    {
        await using var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage, Replicas = 3 });
        Assert.Equal(3, env.Replicas.Select(r => r.BaseUrl.Port).Distinct().Count());
        for (var i = 0; i < 6; i++)
        {
            await env.CallAsync("echo", [i]).Within();
        }
        Assert.All(env.GetStats(), s => Assert.Equal(2, s.Requests)); // round robin over the three
    }

    [Fact]
    public async Task ConstructorFailure_GivesTheHostsReason_AndLeavesNothingRunning()
    {
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => LoadAsync(new EnvironmentOptions { Image = fixture.BrokenImage, Replicas = 2 }));
        Assert.Contains("Failed to initialize Actor: RuntimeError: no API key configured", e.Message);
        Assert.Contains("no API key configured", e.Reason);
        Assert.Empty(await fixture.ContainersOfAsync(fixture.BrokenImage));
    }

    [Fact]
    public async Task ContainerThatDies_GivesExitCodeAndLogTail_FailingFast()
    {
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => LoadAsync(new EnvironmentOptions { Image = fixture.ExitingImage }));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"a dead container was noticed after {clock.Elapsed}");
        Assert.Equal(7, e.ExitCode);
        Assert.Contains("giving up now", e.LogTail);
        Assert.Empty(await fixture.ContainersOfAsync(fixture.ExitingImage));
    }

    [Fact]
    public async Task Deadline_Exceeded_IsReportedAndTheCallCancelled()
    {
        await using var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage });
        var e = await Assert.ThrowsAsync<DeadlineExceededException>(() =>
            env.CallAsync("sleep", kwargs: Kw(("ms", 30_000), ("tag", "late")), timeout: TimeSpan.FromMilliseconds(500)).Within());
        Assert.Equal("sleep", e.Method);
        await Bounded.Until(async () => (await env.CallAsync("cancellations")).EnumerateArray().Any(t => t.GetString() == "late"),
            TimeSpan.FromSeconds(5), "the environment cancelling the late call");
    }

    [Fact]
    public async Task NamedContainer_ReusedWhenTheSpecMatches_RecreatedWhenEnvOrLimitsDiffer()
    {
        var name = $"affinetes-test-reuse-{Guid.NewGuid():N}"[..36];
        var options = new EnvironmentOptions
        {
            Image = fixture.ClientImage,
            ContainerName = name,
            Cleanup = false,
            EnvVars = new Dictionary<string, string> { ["MODE"] = "first" },
        };
        try
        {
            string firstId;
            await using (var env = await LoadAsync(options))
            {
                firstId = env.Replicas[0].Id;
                Assert.Equal("first", (await env.CallAsync("environment", ["MODE"])).GetString());
            }
            await using (var env = await LoadAsync(options))
            {
                Assert.Equal(firstId, env.Replicas[0].Id);
            }
            string secondId;
            await using (var env = await LoadAsync(options with { EnvVars = new Dictionary<string, string> { ["MODE"] = "second" } }))
            {
                secondId = env.Replicas[0].Id;
                Assert.NotEqual(firstId, secondId);
                Assert.Equal("second", (await env.CallAsync("environment", ["MODE"])).GetString());
            }
            await using (var env = await LoadAsync(options with { EnvVars = new Dictionary<string, string> { ["MODE"] = "second" }, MemLimit = "256Mi", CpuLimit = "500m" }))
            {
                Assert.NotEqual(secondId, env.Replicas[0].Id);
                var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
                Assert.Equal(256L << 20, inspected.HostConfig!.Memory);
                Assert.Equal(500_000_000L, inspected.HostConfig.NanoCPUs);
            }
            await using (var attached = await LoadAsync(new EnvironmentOptions { ContainerName = name, ConnectOnly = true }))
            {
                Assert.Equal("second", (await attached.CallAsync("environment", ["MODE"])).GetString());
            }
        }
        finally
        {
            foreach (var c in await fixture.ContainersOfAsync(fixture.ClientImage))
            {
                if (c.Names.Any(n => n.TrimStart('/') == name))
                {
                    await fixture.Docker.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true });
                }
            }
        }
    }

    [Fact]
    public async Task ImageOnlyInARegistry_IsPulled_ByTagAndByDigest()
    {
        // As a validator meets a miner's image: in a registry (the local one on 127.0.0.1:5000), named by tag or digest.
        var registry = System.Environment.GetEnvironmentVariable("AFFINETES_TEST_REGISTRY") ?? "127.0.0.1:5000";
        var repository = $"{registry}/affinetes-test/client-pulled";
        var tag = Guid.NewGuid().ToString("N")[..12];
        var remote = $"{repository}:{tag}";
        await fixture.Docker.Images.TagImageAsync(fixture.ClientImage, new ImageTagParameters { RepositoryName = repository, Tag = tag }).Within();
        string? pushError = null;
        await fixture.Docker.Images.PushImageAsync(remote, new ImagePushParameters { Tag = tag }, new AuthConfig(),
            new Progress<JSONMessage>(m => pushError ??= m.Error?.Message)).Within(TimeSpan.FromMinutes(2), "pushing to the local registry");
        Assert.Null(pushError);
        var digest = (await fixture.Docker.Images.InspectImageAsync(remote).Within()).RepoDigests.Single(d => d.StartsWith(repository + "@", StringComparison.Ordinal));
        try
        {
            // By digest with pulling forced: the engine may still know the digest of the (untagged) local image.
            foreach (var (reference, pull) in new[] { (remote, PullPolicy.Missing), (digest, PullPolicy.Always) })
            {
                await fixture.Docker.Images.DeleteImageAsync(remote, new ImageDeleteParameters { NoPrune = true }).Within();
                Assert.Empty(await fixture.Docker.Images.ListImagesAsync(new ImagesListParameters
                {
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["reference"] = new Dictionary<string, bool> { [remote] = true } },
                }).Within());
                await using var env = await LoadAsync(new EnvironmentOptions { Image = reference, Docker = new DockerOptions { Pull = pull } });
                Assert.Equal(7, (await env.CallAsync("echo", [7]).Within()).GetProperty("x").GetInt32());
                await fixture.Docker.Images.TagImageAsync(reference, new ImageTagParameters { RepositoryName = repository, Tag = tag }).Within();
            }
        }
        finally
        {
            foreach (var c in (await fixture.ContainersOfAsync(remote)).Concat(await fixture.ContainersOfAsync(digest)))
            {
                await Testing.DockerEngine.RemoveContainerQuietlyAsync(fixture.Docker, c.ID);
            }
            await Testing.DockerEngine.RemoveImageQuietlyAsync(fixture.Docker, remote);
            await Testing.DockerEngine.RemoveImageQuietlyAsync(fixture.Docker, digest);
        }
    }

    [Fact]
    public async Task AuthToken_OnlyItsHashEntersTheContainer_AndCallsCarryTheToken()
    {
        const string token = "validator-secret-token-1";
        await using var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage, AuthToken = token });
        Assert.Equal(1, (await env.CallAsync("echo", [1]).Within()).GetProperty("x").GetInt32());
        var inspected = await fixture.Docker.Containers.InspectContainerAsync(env.Replicas[0].Id);
        Assert.DoesNotContain(inspected.Config!.Env!, e => e.Contains(token, StringComparison.Ordinal));
        Assert.Contains($"{HostEnvironment.AuthTokenSha256}={HostEnvironment.HashAuthToken(token)}", inspected.Config.Env!);
        // The actor cannot read it either.
        Assert.Equal(JsonValueKind.Null, (await env.CallAsync("environment", [HostEnvironment.AuthToken]).Within()).ValueKind);
        // And without it the host refuses.
        using var anonymous = new HttpClient();
        using var refused = await anonymous.PostAsync(new Uri(env.Replicas[0].BaseUrl, "/call"), new StringContent("{\"method\":\"echo\",\"args\":[1]}"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task MissingImage_WithPullNever_SaysSo()
    {
        var e = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => LoadAsync(new EnvironmentOptions { Image = "affinetes-test/does-not-exist:1", Docker = new DockerOptions { Pull = PullPolicy.Never } }));
        Assert.Equal("image affinetes-test/does-not-exist:1 is not on the local engine and pulling is off", e.Message);
        var pulled = await Assert.ThrowsAsync<EnvironmentUnavailableException>(() => LoadAsync(new EnvironmentOptions { Image = "127.0.0.1:5000/affinetes-test/does-not-exist:1" }));
        // The registry's answer in words, not the engine's JSON around it.
        Assert.StartsWith("image 127.0.0.1:5000/affinetes-test/does-not-exist:1 is not on the local engine and could not be pulled: ", pulled.Message);
        Assert.Contains("not found", pulled.Message);
        Assert.DoesNotContain("{\"message\"", pulled.Message);
    }

    [Fact]
    public async Task Logs_StreamAsTheyComeAndToTheFile()
    {
        var file = Path.Combine(Path.GetTempPath(), $"affinetes-logs-{Guid.NewGuid():N}.log");
        var lines = new List<string>();
        try
        {
            await using (var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage, LogFile = file }))
            {
                using var following = new CancellationTokenSource();
                var reading = Task.Run(async () =>
                {
                    await foreach (var line in env.ReadLogsAsync(follow: true, following.Token))
                    {
                        lock (lines)
                        {
                            lines.Add(line.Line);
                        }
                    }
                });
                await env.CallAsync("echo", [1]).Within();
                await Bounded.Until(() => Task.FromResult(Snapshot(lines).Any(l => l.Contains("call echo 200", StringComparison.Ordinal))),
                    TimeSpan.FromSeconds(10), "the call's log line reaching the reader");
                await following.CancelAsync();
                await reading.ContinueWith(_ => { }).Within();
            }
            Assert.Contains(File.ReadAllLines(file), l => l.Contains("call echo 200", StringComparison.Ordinal) && l.StartsWith("[afs-", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }

        static List<string> Snapshot(List<string> lines)
        {
            lock (lines)
            {
                return [.. lines];
            }
        }
    }

    [Fact]
    public async Task HostNetwork_ServesOnAFreeLoopbackPort()
    {
        await using var env = await LoadAsync(new EnvironmentOptions { Image = fixture.ClientImage, Docker = new DockerOptions { HostNetwork = true } });
        Assert.Equal("127.0.0.1", env.Replicas[0].BaseUrl.Host);
        Assert.Equal(4, (await env.CallAsync("echo", [4])).GetProperty("x").GetInt32());
    }
}
