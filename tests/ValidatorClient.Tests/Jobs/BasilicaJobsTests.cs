using System.Diagnostics;
using System.Text.Json;
using Affinetes.Testing;
using Affinetes.Testing.Basilica;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Evaluation;
using Affinetes.ValidatorClient.Jobs;
using Affinetes.ValidatorClient.Miners;
using Affinetes.ValidatorClient.Results;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Tests.Jobs;

/// <summary>
/// The validator's jobs on Basilica through the library alone, against the local contract server (each deployment
/// real containers behind an ingress on 127.0.0.1): evaluation with its cache, resume and a deployment lost mid-run,
/// scoring with broken miners, a killed validator's leftovers, the key kept home by the LLM gateway at a public URL.
/// Every test ends with the server's ledger showing every deployment created deleted by the client.
/// </summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(DockerModeCollection.Name)]
public sealed class BasilicaJobsTests(DockerModeFixture fixture) : IAsyncLifetime
{
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("affinetes-basilica-jobs-");
    private readonly TempStore _temp = new();
    private readonly List<string> _logs = [];
    private BasilicaContractServer _server = null!;
    private ResultStore _store = null!;

    public async Task InitializeAsync()
    {
        _server = await BasilicaContractServer.StartAsync().Within(what: "starting the contract server");
        _store = await _temp.OpenAsync();
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _server.AssertAllDeletedAsync().Within(TimeSpan.FromSeconds(90), "checking that every deployment was deleted");
            Assert.Empty(_server.LiveDeployments);
        }
        finally
        {
            await _server.DisposeAsync();
            await _store.DisposeAsync();
            await _temp.DisposeAsync();
            _state.Delete(recursive: true);
        }
    }

    private BasilicaOptions Basilica(string? token = null) => new()
    {
        ApiUrl = _server.Url,
        Token = token ?? _server.Token,
        StatusPollInterval = TimeSpan.FromMilliseconds(200),
        RetryDelay = TimeSpan.FromMilliseconds(50),
        ApiRequestsPerSecond = 50,
        ApiBurst = 50,
        StateDirectory = _state.FullName,
    };

    private EnvironmentOptions OnBasilica(string image, int replicas = 1) => new()
    {
        Mode = EnvironmentMode.Basilica,
        Image = image,
        Replicas = replicas,
        ReadyTimeout = TimeSpan.FromSeconds(90),
        Basilica = Basilica(),
    };

    /// <summary>Where the clients, services and environments of these tests log: the test's list.</summary>
    private ILoggerFactory Loggers => LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new ListLoggerProvider(_logs)));

    private static EvaluationServiceOptions WithLocalModel() => new() { LocalModel = new LocalTestModel() };

    private int Count(string action) => _server.Ledger.Count(e => e.Action == action);

    /// <summary>A reference pinned by digest, as miners commit them (the contract server serves it by the image's id).</summary>
    private async Task<string> PinnedAsync(string image)
    {
        var id = (await fixture.Docker.Images.InspectImageAsync(image).Within(what: "inspecting the image")).ID;
        return $"{image.Split(':')[0]}@{id}";
    }

    [Fact]
    public async Task Eval_PinnedImage_OneDeploymentServesEveryTask_TheRerunIsAllCacheHits_AndStartsNothing()
    {
        var pinned = await PinnedAsync(fixture.ClientImage);
        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        var job = new EvaluationJob
        {
            Environment = OnBasilica(pinned, replicas: 2),
            Request = new EvaluationRequest { Method = "score", TaskIds = [.. Enumerable.Range(1, 30).Select(i => (long)i)], Concurrency = 6 },
        };
        var first = await service.RunAsync(job).Within(TimeSpan.FromMinutes(3), "the first evaluation");
        Assert.Equal(30, first.Summary.Completed);
        Assert.Equal(0.5, first.Summary.MeanScore);
        Assert.Equal(1, Count("create")); // one deployment for every task
        Assert.Equal(1, Count("delete"));
        var body = Assert.Single(_server.CreateBodies);
        Assert.Equal(2, (int?)body["replicas"]);
        // A TTL for the whole run: ready timeout 90 + 5 rounds of 600 s + the 600 s buffer.
        Assert.Equal(90 + 5 * 600 + 600, (long?)body["ttlSeconds"]);
        Assert.Equal("sized", Assert.Single(_server.CreateFraming));
        Assert.Equal(pinned.Split('@')[1], first.Info!.ImageDigest);

        var notes = new List<string>();
        await using var again = await service.StartAsync(job, new Notes(notes)).Within(TimeSpan.FromMinutes(1));
        Assert.Null(again.Environment);
        Assert.Equal(30, again.Run.CacheHits);
        Assert.Contains($"every task of {pinned} is in the cache; no deployment is started", notes);
        Assert.Equal(1, Count("create"));
    }

    [Fact]
    public async Task Eval_ImageByTag_IsNotCached_AndTheRunSaysSo()
    {
        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        var job = new EvaluationJob
        {
            Environment = OnBasilica(fixture.ClientImage),
            Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2, 3] },
        };
        await service.RunAsync(job).Within(TimeSpan.FromMinutes(3));
        var notes = new List<string>();
        await using (var again = await service.StartAsync(job, new Notes(notes)).Within(TimeSpan.FromMinutes(3)))
        {
            Assert.NotNull(again.Environment);
            Assert.Equal(0, again.Run.CacheHits);
            Assert.Null(again.Run.Request.ImageDigest);
            await EvalHostFixture.ReadAllAsync(again.Run, TimeSpan.FromMinutes(1));
        }
        Assert.Contains(notes, n => n.Contains("is not pinned by digest", StringComparison.Ordinal) && n.Contains("nothing is served from the cache", StringComparison.Ordinal));
        Assert.Equal(2, Count("create"));
    }

    [Fact]
    public async Task Eval_InterruptedThenResumed_ByItsIdAlone_OnANewDeployment()
    {
        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        var job = new EvaluationJob
        {
            Environment = OnBasilica(fixture.ClientImage, replicas: 2),
            Request = new EvaluationRequest
            {
                Method = "sleep", TaskIdParameter = "tag", TaskIds = [.. Enumerable.Range(1, 30).Select(i => (long)i)],
                Kwargs = new Dictionary<string, object?> { ["ms"] = 300 }, Concurrency = 2,
            },
        };
        string runId;
        await using (var session = await service.StartAsync(job).Within(TimeSpan.FromMinutes(3)))
        {
            runId = session.Run.Id;
            using var stop = new CancellationTokenSource();
            var seen = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in session.Run.ResultsAsync(stop.Token))
                {
                    if (++seen == 3)
                    {
                        await stop.CancelAsync();
                    }
                }
            }).Within(TimeSpan.FromMinutes(1));
        }
        Assert.Equal(1, Count("delete")); // the interrupted run's deployment is gone with its session

        await using var resumed = await service.ResumeAsync(runId, new EnvironmentOptions { Basilica = Basilica(), ReadyTimeout = TimeSpan.FromSeconds(90) })
            .Within(TimeSpan.FromMinutes(3));
        Assert.Equal(EnvironmentMode.Basilica, resumed.Options.Mode);
        Assert.Equal(2, resumed.Options.Replicas);
        var rest = await EvalHostFixture.ReadAllAsync(resumed.Run, TimeSpan.FromMinutes(2));
        Assert.Equal(30 - resumed.Run.AlreadyDone, rest.Count);
        Assert.Equal(2, Count("create"));
        Assert.Equal(2, (int?)_server.CreateBodies[1]["replicas"]);
    }

    [Fact]
    public async Task Eval_DeploymentDiesMidRun_TheRunEndsWithBasilicasPhaseMessageAndEvents()
    {
        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        await using var session = await service.StartAsync(new EvaluationJob
        {
            Environment = OnBasilica(fixture.ClientImage),
            Request = new EvaluationRequest
            {
                Method = "sleep", TaskIdParameter = "tag", TaskIds = [.. Enumerable.Range(1, 200).Select(i => (long)i)],
                Kwargs = new Dictionary<string, object?> { ["ms"] = 200 }, Concurrency = 4,
            },
        }).Within(TimeSpan.FromMinutes(3));
        var instance = Assert.Single(_server.LiveDeployments);
        var seen = 0;
        var e = await Assert.ThrowsAsync<BasilicaDeploymentException>(async () =>
        {
            await foreach (var _ in session.Run.ResultsAsync())
            {
                if (++seen == 4)
                {
                    await _server.KillAsync(instance);
                }
            }
        }).Within(TimeSpan.FromMinutes(2), "the run noticing its deployment died");
        Assert.Equal("failed", e.Phase);
        Assert.Contains("CrashLoopBackOff", e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Events, ev => ev.Contains("Back-off restarting failed container", StringComparison.Ordinal));
        Assert.True(seen < 200);
    }

    [Fact]
    public async Task Eval_ImageThatNeverBecomesReady_FailsAtTheReadyTimeout_WithTheProbesEvents_AndIsDeleted()
    {
        var never = fixture.WritingImage;
        _server.Script(never, new ImageBehaviour.NeverReady());
        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        var e = await Assert.ThrowsAsync<BasilicaDeploymentException>(() => service.StartAsync(new EvaluationJob
        {
            Environment = OnBasilica(never) with { ReadyTimeout = TimeSpan.FromSeconds(20) },
            Request = new EvaluationRequest { Method = "state", TaskIds = [1] },
        })).Within(TimeSpan.FromMinutes(2));
        Assert.Equal("health_check", e.Phase);
        Assert.Contains("did not become ready within 20 s", e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Events, ev => ev.Contains("Readiness probe failed", StringComparison.Ordinal));
        Assert.Equal(1, Count("delete"));
    }

    [Fact]
    public async Task Score_ThreeMiners_OneImageCannotBePulled_ScoresZeroWithBasilicasReason_TheOthersAreScored()
    {
        var file = Path.Combine(_state.FullName, "miners.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["7"] = await PinnedAsync(fixture.ClientImage),
            ["8"] = "affinetes-test/never-pushed:none",
            ["9"] = fixture.ClientImage,
        }));
        await using var client = AffinetesClient.Create(Loggers);
        var service = new ScoringService(client, _store, WithLocalModel(), Loggers);
        var report = await service.ScoreAsync(new ScoringJob
        {
            Miners = MinersSource.FromFile(file),
            Environment = OnBasilica("any"),
            Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2, 3] },
            MinersConcurrency = 2,
        }).Within(TimeSpan.FromMinutes(4), "scoring three miners");
        var byUid = report.Miners.ToDictionary(m => m.Miner.Uid);
        Assert.Equal(0.5, byUid["7"].Score);
        Assert.Equal(0.5, byUid["9"].Score);
        Assert.Equal(0, byUid["8"].Score);
        Assert.StartsWith("not started: basilica deployment afs-never-pushed-", byUid["8"].Reason, StringComparison.Ordinal);
        Assert.Contains("(phase failed: ImagePullBackOff", byUid["8"].Reason, StringComparison.Ordinal);
        Assert.Contains("Failed to pull image", byUid["8"].Reason, StringComparison.Ordinal);
        Assert.Contains("; recent events: Normal Pulling: ", byUid["8"].Reason, StringComparison.Ordinal); // one line, read as one
        Assert.Equal([0.5, 0, 0.5], report.Weights);
        Assert.Equal([(ushort)7, (ushort)9], report.ChainUids!);
        Assert.Equal(3, Count("create"));
    }

    [Fact]
    public async Task Score_WithAKeyBasilicaRefuses_EndsAtOnce_WithoutScoringAnyMinerZero_NothingCreated()
    {
        var file = Path.Combine(_state.FullName, "miners.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, string> { ["1"] = fixture.ClientImage, ["2"] = fixture.ClientImage }));
        await using var client = AffinetesClient.Create(Loggers);
        var service = new ScoringService(client, _store, WithLocalModel(), Loggers);
        var e = await Assert.ThrowsAsync<BasilicaApiException>(() => service.ScoreAsync(new ScoringJob
        {
            Miners = MinersSource.FromFile(file),
            Environment = OnBasilica("any") with { Basilica = Basilica(token: "basilica_refused_key") },
            Request = new EvaluationRequest { Method = "score", TaskIds = [1] },
        })).Within(TimeSpan.FromMinutes(1));
        Assert.Equal(401, e.StatusCode);
        Assert.Equal(0, Count("create"));
    }

    [Fact]
    public async Task AKilledValidatorsDeployment_IsDeletedByTheNextJob_ALiveOnesIsNot()
    {
        // What a validator killed with SIGKILL leaves: a deployment, and its note naming a process that is gone.
        using var gone = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        var goneStarted = gone.StartTime.ToUniversalTime();
        gone.Kill();
        await gone.WaitForExitAsync().Within();
        var left = await CreateDirectlyAsync("afs-left-by-killed-0123456789");
        var alive = await CreateDirectlyAsync("afs-of-a-live-validator-0123456789");
        Note(left, gone.Id, goneStarted);
        Note(alive, Environment.ProcessId, Process.GetCurrentProcess().StartTime.ToUniversalTime());

        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        var notes = new List<string>();
        await service.RunAsync(new EvaluationJob
        {
            Environment = OnBasilica(fixture.ClientImage),
            Request = new EvaluationRequest { Method = "score", TaskIds = [1] },
        }).Within(TimeSpan.FromMinutes(3));
        Assert.Contains(_server.Ledger, e => e.Action == "delete" && e.InstanceName == left);
        Assert.Contains(alive, _server.LiveDeployments);
        Assert.False(File.Exists(Path.Combine(_state.FullName, left + ".json")));
        lock (_logs)
        {
            Assert.Contains(_logs, l => l.StartsWith("5009 ", StringComparison.Ordinal) && l.Contains(left, StringComparison.Ordinal) && l.Contains($"pid {gone.Id}", StringComparison.Ordinal));
        }
        // The live one's owner (this test) deletes it itself.
        using var deployments = new Backends.Basilica.BasilicaDeployments(Basilica());
        Assert.True(await deployments.DeleteAsync(alive).Within());
    }

    [Fact]
    public async Task LlmPublicUrl_TheDeploymentGetsATokenAndThePublicUrl_NeverTheKey_AndEachTasksUsageIsStored()
    {
        const string keyVariable = "AFFINETES_TEST_REAL_LLM_KEY";
        var realKey = "sk-real-" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(keyVariable, realKey);
        try
        {
            // The pods run on the engine's bridge: the gateway listens on the bridge's address, reached as host.docker.internal.
            var bridge = await DockerEngine.BridgeGatewayAsync(fixture.Docker).Within();
            var port = DockerEngine.FreeLoopbackPort();
            _server.ContainerExtraHosts.Add("host.docker.internal:host-gateway");
            await using var model = await LocalLlmServer.StartAsync().Within();
            await using var client = AffinetesClient.Create(Loggers);
            var service = new EvaluationService(client, _store, loggerFactory: Loggers);
            var report = await service.RunAsync(new EvaluationJob
            {
                Environment = OnBasilica(fixture.ClientImage),
                Request = new EvaluationRequest { Method = "llm_score", TaskIds = [1, 2, 3, 4], Concurrency = 2 },
                Model = new ModelEndpoint { BaseUrl = model.BaseUrl.ToString(), Model = LocalLlmServer.DefaultModel, ApiKeyVariable = keyVariable },
                LlmPublicUrl = $"http://host.docker.internal:{port}/v1",
                LlmListen = $"{bridge}:{port}",
            }).Within(TimeSpan.FromMinutes(3));

            Assert.True(report.Summary.Completed == 4, string.Join("; ", report.Results.Select(r => r.Error ?? r.Value?.GetRawText())));
            Assert.Equal(1.0, report.Summary.MeanScore);
            Assert.Equal(4, model.Requests.Count);
            // Each task's calls went to its own path: the usage is stored with each result.
            Assert.All(report.Results, r => Assert.Equal(1, r.LlmUsage?.Requests));
            Assert.Equal(4, report.LlmUsage!.Requests);
            var env = Assert.Single(_server.DeploymentEnv.Values);
            Assert.Equal($"http://host.docker.internal:{port}/v1", env["OPENAI_BASE_URL"]);
            Assert.Equal(env["OPENAI_API_KEY"], env["CHUTES_API_KEY"]);
            Assert.DoesNotContain(env, kv => kv.Value.Contains(realKey, StringComparison.Ordinal));
            Assert.DoesNotContain(realKey, _server.CreateBodies.Single().ToJsonString(), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(keyVariable, null);
        }
    }

    [Fact]
    public async Task ARemoteModel_WithoutTheGatewaysPublicUrl_IsRefused_UnlessTheKeyIsPassedExplicitly_ThenWithAWarning()
    {
        const string keyVariable = "AFFINETES_TEST_PASSED_KEY";
        Environment.SetEnvironmentVariable(keyVariable, "sk-passed-on-purpose");
        try
        {
            await using var client = AffinetesClient.Create(Loggers);
            var service = new EvaluationService(client, _store, loggerFactory: Loggers);
            var remote = new ModelEndpoint { BaseUrl = "https://llm.example.invalid/v1", Model = "m", ApiKeyVariable = keyVariable };
            var job = new EvaluationJob
            {
                Environment = OnBasilica(fixture.ClientImage),
                Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2] },
                Model = remote,
            };
            var refused = await Assert.ThrowsAsync<JobOptionsException>(() => service.StartAsync(job)).Within();
            Assert.Contains("needs the LLM gateway at a public URL", refused.Message, StringComparison.Ordinal);
            Assert.Equal(0, Count("create"));

            var notes = new List<string>();
            var passing = job with { Environment = job.Environment with { Basilica = job.Environment.Basilica with { PassLlmKey = true } } };
            await using (var session = await service.StartAsync(passing, new Notes(notes)).Within(TimeSpan.FromMinutes(3)))
            {
                await EvalHostFixture.ReadAllAsync(session.Run, TimeSpan.FromMinutes(1));
            }
            Assert.Contains(notes, n => n.StartsWith($"warning: the model's API key (${keyVariable}) is passed into the Basilica deployment", StringComparison.Ordinal));
            Assert.Equal("sk-passed-on-purpose", Assert.Single(_server.DeploymentEnv.Values)[keyVariable]);
            lock (_logs)
            {
                Assert.Contains(_logs, l => l.StartsWith("7001 Warning warning: the model's API key", StringComparison.Ordinal));
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(keyVariable, null);
        }
    }

    [Fact]
    public async Task ConnectOnly_FindsTheDeploymentByTheNameGiven_WhateverBasilicaNamedIt_AndNeverDeletesIt()
    {
        _server.RenameInstances = true;
        var options = OnBasilica(fixture.ClientImage) with { ContainerName = "bb" };
        await using (var started = await AffinetesClient.LoadEnvAsync(options, Loggers).Within(TimeSpan.FromMinutes(3)))
        {
            var instance = Assert.Single(_server.LiveDeployments);
            Assert.True(Guid.TryParse(instance, out _));
            await using (var reconnected = await AffinetesClient.LoadEnvAsync(new EnvironmentOptions
            {
                Mode = EnvironmentMode.Basilica,
                ConnectOnly = true,
                ContainerName = "bb",
                Cleanup = false,
                Basilica = Basilica(),
            }).Within(TimeSpan.FromMinutes(1)))
            {
                Assert.Equal(4, (await reconnected.CallAsync("echo", kwargs: new Dictionary<string, object?> { ["x"] = 4 }).Within()).GetProperty("x").GetInt32());
                Assert.StartsWith(instance, reconnected.Replicas[0].Id, StringComparison.Ordinal);
            }
            Assert.Equal(0, Count("delete")); // connecting never deletes
            Assert.Single(_server.LiveDeployments);
        }
        Assert.Equal(1, Count("delete"));
    }

    [Fact]
    public async Task BurstsOf429_OnEveryKindOfRequest_AndAProxyThatRefusesChunkedBodies_AreRidden()
    {
        _server.RequireSizedBodies = true;
        _server.Inject(new ScriptedFault("*", "/deployments", 429, Times: 3));
        _server.Inject(new ScriptedFault("POST", "/deployments", 503, Times: 1));
        await using var client = AffinetesClient.Create(Loggers);
        var service = new EvaluationService(client, _store, WithLocalModel(), Loggers);
        var report = await service.RunAsync(new EvaluationJob
        {
            Environment = OnBasilica(fixture.ClientImage),
            Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2] },
        }).Within(TimeSpan.FromMinutes(3));
        Assert.Equal(2, report.Summary.Completed);
        Assert.Equal(1, Count("create"));
        Assert.All(_server.CreateFraming, f => Assert.Equal("sized", f));
        lock (_logs)
        {
            Assert.True(_logs.Count(l => l.StartsWith("5007 ", StringComparison.Ordinal)) >= 4);
        }
    }

    [Fact]
    public async Task TheLoop_OnFakeTime_EvaluatesAgainOnlyImagesWhoseDigestChanged_AndLeavesNothingWhenStopped()
    {
        var first = await PinnedAsync(fixture.ClientImage);
        var variantTag = $"affinetes-test/client-variant:{Guid.NewGuid():N}"[..48];
        await BuildVariantAsync(fixture.ClientImage, variantTag);
        try
        {
            var changed = await PinnedAsync(variantTag);
            var file = Path.Combine(_state.FullName, "miners.json");
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, string> { ["7"] = first }));
            await using var client = AffinetesClient.Create(Loggers);
            var time = new WaitingTime(DateTimeOffset.UtcNow);
            var cycles = System.Threading.Channels.Channel.CreateUnbounded<ScoringCycle>();
            using var stop = new CancellationTokenSource();
            var loop = new ScoringLoop(new ScoringService(client, _store, WithLocalModel(), Loggers), time).RunAsync(new ScoringJob
            {
                Miners = MinersSource.FromFile(file),
                Environment = OnBasilica("any"),
                Request = new EvaluationRequest { Method = "score", TaskIds = [1, 2, 3] },
            }, TimeSpan.FromMinutes(30), new ChannelProgress<ScoringCycle>(cycles.Writer), cancellationToken: stop.Token);
            async Task<ScoringCycle> NextCycleAsync() => await cycles.Reader.ReadAsync().AsTask().Within(TimeSpan.FromMinutes(3), "a scoring cycle");

            var one = await NextCycleAsync();
            Assert.Equal(0.5, Assert.Single(one.Report!.Miners).Score);
            Assert.Equal(1, Count("create"));

            await time.AdvanceOnceWaitingAsync(TimeSpan.FromMinutes(30));
            var two = await NextCycleAsync(); // the same digest: every task from the store, no deployment
            Assert.Equal(1, two.UnchangedMiners);
            Assert.Equal(3, two.Report!.Miners[0].Summary!.FromCache);
            Assert.Equal(1, Count("create"));

            // The miners source is read again: miner 7 committed another image, miner 8 the one 7 had.
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, string> { ["7"] = changed, ["8"] = first }));
            await time.AdvanceOnceWaitingAsync(TimeSpan.FromMinutes(30));
            var three = await NextCycleAsync();
            var byUid = three.Report!.Miners.ToDictionary(m => m.Miner.Uid);
            Assert.Equal(0, byUid["7"].Summary!.FromCache); // a new digest: evaluated
            Assert.Equal(3, byUid["8"].Summary!.FromCache); // the digest is the key, not the miner
            Assert.Equal(2, Count("create"));

            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop).Within(TimeSpan.FromMinutes(1));
            Assert.Empty(_server.LiveDeployments);
        }
        finally
        {
            await DockerEngine.RemoveImageQuietlyAsync(fixture.Docker, variantTag);
        }
    }

    /// <summary>
    /// Fake time advanced only once the loop waits on it: an advance between the loop's reading of the clock and its
    /// timer's start would be lost (the timer would count its whole wait from the advanced time).
    /// </summary>
    private sealed class WaitingTime(DateTimeOffset start) : Microsoft.Extensions.Time.Testing.FakeTimeProvider(start)
    {
        private readonly SemaphoreSlim _timers = new(0);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            _timers.Release();
            return timer;
        }

        public async Task AdvanceOnceWaitingAsync(TimeSpan by)
        {
            await _timers.WaitAsync().Within(TimeSpan.FromMinutes(1), "the loop waiting for its next cycle");
            Advance(by);
        }
    }

    /// <summary>Another image of the same code (a new id, so a new digest), as a miner's rebuild gives.</summary>
    private async Task BuildVariantAsync(string from, string tag)
    {
        using var context = new MemoryStream();
        await using (var tar = new System.Formats.Tar.TarWriter(context, leaveOpen: true))
        {
            var dockerfile = System.Text.Encoding.UTF8.GetBytes($"FROM {from}\nLABEL affinetes.test.variant={Guid.NewGuid():N}\n");
            var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "Dockerfile") { DataStream = new MemoryStream(dockerfile) };
            await tar.WriteEntryAsync(entry);
        }
        context.Position = 0;
        await fixture.Docker.Images.BuildImageFromDockerfileAsync(new Docker.DotNet.Models.ImageBuildParameters { Tags = [tag], Remove = true }, context, null, null,
            new Progress<Docker.DotNet.Models.JSONMessage>()).Within(TimeSpan.FromMinutes(2), "building a variant image");
        await fixture.Docker.Images.InspectImageAsync(tag).Within(what: "finding the variant image");
    }

    private sealed class ChannelProgress<T>(System.Threading.Channels.ChannelWriter<T> writer) : IProgress<T>
    {
        public void Report(T value) => writer.TryWrite(value);
    }

    private async Task<string> CreateDirectlyAsync(string name)
    {
        using var http = new HttpClient { BaseAddress = new Uri(_server.Url) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _server.Token);
        using var answer = await http.PostAsync("deployments", new StringContent(JsonSerializer.Serialize(new { instanceName = name, image = fixture.ClientImage, port = 8000, ttlSeconds = 3600 }),
            System.Text.Encoding.UTF8, "application/json")).Within();
        Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync());
        return name;
    }

    /// <summary>The note a client writes before it creates a deployment, naming <paramref name="pid"/> as its owner.</summary>
    private void Note(string instance, int pid, DateTime started) =>
        File.WriteAllText(Path.Combine(_state.FullName, instance + ".json"), JsonSerializer.Serialize(new
        {
            instanceName = instance,
            requestedName = instance,
            image = fixture.ClientImage,
            apiUrl = _server.Url,
            createdAt = DateTimeOffset.UtcNow,
            ttlSeconds = 3600,
            owner = new { host = Environment.MachineName, pid, startedAt = new DateTimeOffset(started) },
        }));

    private sealed class Notes(List<string> lines) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }
}
