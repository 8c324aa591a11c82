using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;
using Affinetes.Testing;

namespace Affinetes.Afs.Tests;

/// <summary>afs run, call, ps, logs, stop and cleanup as a user runs them, against the real engine.</summary>
[Trait(Tiers.Name, Tiers.Docker)]
[Collection(AfsEnvironmentCollection.Name)]
public sealed class AfsEnvironmentCommandsTests(AfsEnvironmentFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("affinetes-afs-env-");

    public void Dispose() => _work.Delete(recursive: true);

    private static Task<(int Exit, string Output, string Error)> AfsAsync(params string[] args) => AfsEnvironmentFixture.AfsAsync(args);

    [Fact]
    public async Task RunPsCallLogsStop_WorkAsAUserChainsThem()
    {
        var name = fixture.NewName("flow");
        const string secret = "sk-never-printed-4711";

        var (runExit, runOutput, runError) = await AfsAsync("run", fixture.Image, "--name", name, "--replicas", "2", "--env", $"CHUTES_API_KEY={secret}");
        Assert.True(runExit == 0, runError);
        Assert.StartsWith($"environment {name} is ready: {fixture.Image}, 2 replicas", runOutput);
        Assert.Matches(new Regex($@"^0\s+{name}\s+127\.0\.0\.1:\d+\s+started$", RegexOptions.Multiline), runOutput);
        Assert.Matches(new Regex($@"^1\s+{name}-1\s+127\.0\.0\.1:\d+\s+started$", RegexOptions.Multiline), runOutput);
        Assert.Matches(new Regex(@"^generate\s+\(task_id: int, seed: int = 0\) -> dict$", RegexOptions.Multiline), runOutput);
        Assert.Matches(new Regex(@"^evaluate\s+async \(task_id: int, ", RegexOptions.Multiline), runOutput);
        Assert.DoesNotContain(secret, runOutput + runError);
        Assert.DoesNotContain("\u001b[", runOutput); // redirected output is plain: no ANSI codes, no box drawing
        Assert.DoesNotContain("│", runOutput);

        // afs exited; its containers did not.
        var (psExit, psOutput, _) = await AfsAsync("ps");
        Assert.Equal(0, psExit);
        Assert.Matches(new Regex($@"^{name}\s+{name}\s+{Regex.Escape(fixture.Image)}\s+Up .*127\.0\.0\.1:\d+\s+0\s+", RegexOptions.Multiline), psOutput);
        Assert.Matches(new Regex($@"^{name}\s+{name}-1\s+{Regex.Escape(fixture.Image)}\s+Up .*127\.0\.0\.1:\d+\s+1\s+", RegexOptions.Multiline), psOutput);
        var (psJsonExit, psJson, _) = await AfsAsync("ps", "--json");
        Assert.Equal(0, psJsonExit);
        var listed = JsonDocument.Parse(psJson).RootElement.EnumerateArray().Where(c => c.GetProperty("name").GetString() == name).ToList();
        Assert.Equal([0, 1], listed.Select(c => c.GetProperty("replica").GetInt32()).Order());
        Assert.All(listed, c => Assert.Matches(@"^127\.0\.0\.1:\d+$", c.GetProperty("address").GetString()));
        Assert.Single(listed.Select(c => c.GetProperty("session").GetString()).Distinct());
        Assert.DoesNotContain(secret, psJson);

        var (callExit, callOutput, callError) = await AfsAsync("call", name, "generate", "--arg", "task_id=1");
        Assert.True(callExit == 0, callError);
        Assert.Equal("", callError);
        var result = JsonDocument.Parse(callOutput).RootElement;
        Assert.Equal(JsonValueKind.Number, result.GetProperty("expected").ValueKind);
        Assert.True(result.GetProperty("expected").TryGetInt64(out _), $"expected is not an integer: {callOutput}");
        Assert.Equal(JsonValueKind.String, result.GetProperty("prompt").ValueKind);
        Assert.Equal(1, result.GetProperty("task_id").GetInt32()); // "1" on the command line went as the integer 1
        Assert.Contains("\n  \"prompt\": ", callOutput); // pretty by default

        // The host logs a call once its answer is sent, and the engine collects logs a moment later.
        var logsOutput = "";
        await Bounded.Until(async () =>
        {
            var (logsExit, output, logsError) = await AfsAsync("logs", name);
            Assert.True(logsExit == 0, logsError);
            logsOutput = output;
            return output.Contains("call generate 200", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10), "afs logs showing the call");
        Assert.Matches(new Regex($@"^\[{name}(-1)?\] .*call generate 200 ", RegexOptions.Multiline), logsOutput);
        Assert.Contains($"[{name}-1] ", logsOutput);
        Assert.DoesNotContain(secret, logsOutput);

        var (stopExit, stopOutput, stopError) = await AfsAsync("stop", name);
        Assert.True(stopExit == 0, stopError);
        Assert.Equal($"stopped and removed 2 containers of {name}: {name}, {name}-1", stopOutput.Trim());
        var (_, psAfter, _) = await AfsAsync("ps", "--all");
        Assert.DoesNotContain(name, psAfter);
        Assert.Empty(await fixture.ContainersOfAsync(name));

        var (stopAgainExit, _, stopAgainError) = await AfsAsync("stop", name);
        Assert.Equal(1, stopAgainExit);
        Assert.Equal($"afs stop: no containers of environment '{name}' (afs ps --all lists them)", stopAgainError.Trim());
    }

    [Fact]
    public async Task Call_Failures_ExitWithTheirCodeAndOneLine()
    {
        var name = fixture.NewName("errors");
        try
        {
            Assert.Equal(0, (await AfsAsync("run", fixture.Image, "--name", name)).Exit);

            var (exit, output, error) = await AfsAsync("call", name, "no_such_method");
            Assert.Equal(3, exit);
            Assert.Equal("", output);
            Assert.Matches(@"^afs call: the environment has no method 'no_such_method' \(methods: [a-z_, ]*evaluate[a-z_, ]*\)\n$", error);

            (exit, _, error) = await AfsAsync("call", name, "generate", "--arg", "taskid=1");
            Assert.Equal(3, exit);
            Assert.Equal("afs call: bad arguments for generate: generate(task_id: int, seed: int = 0) -> dict: unexpected argument 'taskid' (did you mean 'task_id'?); missing required argument 'task_id'\n", error);

            // --timeout bounds the whole command: a deadline too short for anything is the deadline, not "not ready".
            // (1e-9 s is below a tick: the token's timer fires on another thread, and on a busy machine the ready wait,
            // bounded by the same figure, gave up first: exit 5 once in a full run, before the clock was checked too.)
            (exit, output, error) = await AfsAsync("call", name, "generate", "--arg", "task_id=1", "--timeout", "1e-9");
            Assert.Equal(4, exit);
            Assert.Equal("", output);
            Assert.StartsWith("afs call: generate did not answer within --timeout 1E-09 s", error);
            Assert.DoesNotContain("ready timeout", error);

            (exit, _, error) = await AfsAsync("call", fixture.NewName("not-running"), "generate");
            Assert.Equal(5, exit);
            Assert.StartsWith($"afs call: no running environment named '{fixture.NewName("not-running")}'", error);
            Assert.Single(error.TrimEnd('\n').Split('\n'));
        }
        finally
        {
            await AfsAsync("stop", name);
        }
    }

    [Fact]
    public async Task Call_SlowerThanTimeout_ExitsFour()
    {
        await using var llm = await LocalLlmServer.StartAsync(_ => LlmReply.Text("Answer: 1") with { Delay = TimeSpan.FromSeconds(60) });
        var name = fixture.NewName("slow");
        try
        {
            var (runExit, _, runError) = await AfsAsync("run", fixture.Image, "--name", name, "--host-network", "--env", "CHUTES_API_KEY=test-key");
            Assert.True(runExit == 0, runError);

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (exit, output, error) = await AfsAsync("call", name, "evaluate", "--arg", "task_id=1", "--arg", "model=m",
                "--arg", $"base_url={llm.BaseUrl}", "--timeout", "2");
            Assert.Equal(4, exit);
            Assert.Equal("", output);
            // Whichever deadline is seen first says so: afs's own --timeout, the client's, or the environment's 504 (it got
            // the same deadline).
            Assert.Matches(@"^afs call: evaluate did not answer within (--timeout )?2 s( \(the environment cancelled it\))?\n$", error);
            // Timers fire on a coarser clock than the stopwatch's: a deadline of 2 s may end a millisecond short of it.
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.95), TimeSpan.FromSeconds(20));
            Assert.Single(llm.Requests); // it was slow because the model was: the call reached it
        }
        finally
        {
            await AfsAsync("stop", name);
        }
    }

    [Fact]
    public async Task Run_AnImageNotBuiltByAfs_SaysSoAndStartsNothing()
    {
        var name = fixture.NewName("plain");
        var (exit, output, error) = await AfsAsync("run", DockerEngine.PythonBaseImage, "--name", name);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"afs run: image {DockerEngine.PythonBaseImage} was not built by afs build (it has no affinetes.env.type label), so nothing in it serves an environment; build it with: afs build DIR --tag {DockerEngine.PythonBaseImage}\n", error);
        Assert.Empty(await fixture.ContainersOfAsync(name));
    }

    /// <summary>As the original's <c>run --dir</c>: a directory is built, then started; a bad flag fails before the build.</summary>
    [Fact]
    public async Task Run_ADirectory_IsBuiltThenStarted()
    {
        var name = fixture.NewName("dir");
        var directory = Path.Combine(_work.FullName, "run-dir");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "env.py"), "class Actor:\n    def ping(self):\n        return 'pong'\n");
        File.WriteAllText(Path.Combine(directory, "Dockerfile"), "FROM python:3.11-slim\nCOPY env.py /app/env.py\n");
        var (badExit, _, badError) = await AfsAsync("run", directory, "--name", name, "--cpu-limit", "1.5x");
        Assert.Equal(1, badExit);
        Assert.DoesNotContain("building", badError);
        try
        {
            var (exit, output, error) = await AfsAsync("run", directory, "--name", name, "--json");
            Assert.True(exit == 0, error);
            Assert.Contains("building", error);
            Assert.Equal("afs-eval/run-dir:latest", JsonDocument.Parse(output).RootElement.GetProperty("image").GetString());
            var (callExit, callOutput, callError) = await AfsAsync("call", name, "ping", "--compact");
            Assert.True(callExit == 0, callError);
            Assert.Equal("\"pong\"\n", callOutput);
        }
        finally
        {
            await AfsAsync("stop", name);
        }
    }

    [Fact]
    public async Task Run_BadCpuLimit_ExitsOneAndStartsNothing()
    {
        var name = fixture.NewName("cpu");
        var (exit, output, error) = await AfsAsync("run", fixture.Image, "--name", name, "--cpu-limit", "1.5x");
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal("afs run: cpu limit '1.5x' is not a CPU quantity; use '2', '0.5' or '2000m'\n", error);
        Assert.Empty(await fixture.ContainersOfAsync(name));
    }

    [Fact]
    public async Task Run_EnvFileWithBadLine_NamesTheLineNotItsContent()
    {
        var name = fixture.NewName("badenv");
        var file = Path.Combine(_work.FullName, "bad.env");
        File.WriteAllLines(file, ["# keys", "", "CHUTES_API_KEY=\"fine\"", "sk-secret-without-a-key"]);
        var (exit, output, error) = await AfsAsync("run", fixture.Image, "--name", name, "--env-file", file);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"afs run: --env-file {file}, line 4: expected KEY=VALUE", error);
        Assert.DoesNotContain("sk-secret", error);
        Assert.Empty(await fixture.ContainersOfAsync(name));
    }

    [Fact]
    public async Task Run_EnvFile_ValuesReachTheActorUnquotedAndUnprinted()
    {
        string? authorization = null;
        await using var llm = await LocalLlmServer.StartAsync(request =>
        {
            authorization = request.Authorization;
            return LlmReply.Text("Answer: 7");
        });
        var name = fixture.NewName("envfile");
        var file = Path.Combine(_work.FullName, ".env");
        File.WriteAllLines(file, ["# the model's key", "export CHUTES_API_KEY=\"sk-from-file-123\"", "UNUSED='x'"]);
        try
        {
            var (runExit, runOutput, runError) = await AfsAsync("run", fixture.Image, "--name", name, "--host-network", "--env-file", file, "--json");
            Assert.True(runExit == 0, runError);
            Assert.DoesNotContain("sk-from-file", runOutput + runError);
            var replica = JsonDocument.Parse(runOutput).RootElement.GetProperty("replicas")[0];
            Assert.Matches(@"^127\.0\.0\.1:\d+$", replica.GetProperty("address").GetString());

            var (exit, output, error) = await AfsAsync("call", name, "evaluate", "--json-args", $$"""{"task_id": 1, "model": "m", "base_url": "{{llm.BaseUrl}}"}""", "--compact");
            Assert.True(exit == 0, error);
            Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("success").GetBoolean(), output);
            Assert.Equal("Bearer sk-from-file-123", authorization);
        }
        finally
        {
            await AfsAsync("stop", name);
        }
    }

    [Fact]
    public async Task LogsFollow_PrintsNewLinesUntilCancelled()
    {
        var name = fixture.NewName("follow");
        try
        {
            Assert.Equal(0, (await AfsAsync("run", fixture.Image, "--name", name)).Exit);
            var output = new ConcurrentStringWriter();
            using var stop = new CancellationTokenSource();
            var following = AfsCli.Build().Parse(["logs", name, "-f", "--tail", "0"])
                .InvokeAsync(new InvocationConfiguration { Output = output, Error = output }, stop.Token);

            Assert.Equal(0, (await AfsAsync("call", name, "generate", "--arg", "task_id=5")).Exit);
            await Bounded.Until(() => Task.FromResult(output.ToString().Contains("call generate 200", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(20), "afs logs -f showing the call");
            Assert.False(following.IsCompleted);
            Assert.DoesNotContain("actor ready", output.ToString()); // --tail 0: only what came after

            await stop.CancelAsync();
            Assert.Equal(0, await following.Within(TimeSpan.FromSeconds(10), "afs logs -f ending on cancellation"));
        }
        finally
        {
            await AfsAsync("stop", name);
        }
    }

    [Fact]
    public async Task Commands_WorkAcrossEngines_IncludingSsh_AndCallSkipsAHungReplica()
    {
        // The test sshd (scripts/setup-ssh.sh) fronts this machine's own engine: the same containers are reached over
        // the local socket and over ssh, which also shows that a container seen through two engines is listed once.
        const string sshConfig = "/var/lib/affinetes-ssh/ssh_config";
        Assert.True(File.Exists(sshConfig), $"{sshConfig} is missing: run scripts/setup-ssh.sh");
        System.Environment.SetEnvironmentVariable("AFFINETES_SSH_CONFIG", sshConfig);
        const string ssh = "ssh://root@affinetes-test-ssh";
        var name = fixture.NewName("engines");
        try
        {
            var (runExit, runOutput, runError) = await AfsAsync("run", fixture.Image, "--name", name, "--replicas", "2", "--host", "local", "--host", ssh);
            Assert.True(runExit == 0, runError);
            Assert.Contains($"afs stop {name} --host local --host '{ssh}'", runOutput); // the next commands are told where to look

            var (psExit, psJson, psError) = await AfsAsync("ps", "--json", "--host", ssh);
            Assert.True(psExit == 0, psError);
            var overSsh = JsonDocument.Parse(psJson).RootElement.EnumerateArray().Where(c => c.GetProperty("name").GetString() == name).ToList();
            Assert.Equal(2, overSsh.Count);
            Assert.All(overSsh, c => Assert.Equal(ssh, c.GetProperty("engine").GetString()));
            var (_, bothJson, _) = await AfsAsync("ps", "--json", "--host", "local", "--host", ssh);
            var both = JsonDocument.Parse(bothJson).RootElement.EnumerateArray().Where(c => c.GetProperty("name").GetString() == name).ToList();
            Assert.Equal(2, both.Count);
            Assert.All(both, c => Assert.Equal("local", c.GetProperty("engine").GetString()));
            var (_, psTable, _) = await AfsAsync("ps", "--host", ssh);
            Assert.Matches(new Regex($@"^{name}\s+{name}-1\s+.*\s{Regex.Escape(ssh)}$", RegexOptions.Multiline), psTable);

            // A call over ssh reaches the replica through the forwarded loopback port.
            var (callExit, callOutput, callError) = await AfsAsync("call", name, "generate", "--arg", "task_id=3", "--json", "--host", ssh);
            Assert.True(callExit == 0, callError);
            Assert.Equal(3, JsonDocument.Parse(callOutput).RootElement.GetProperty("result").GetProperty("task_id").GetInt32());

            // Replica 0 hangs (paused, still listed as up): every running replica is asked at once, replica 1 answers
            // (no --timeout: nothing waits for the hung one).
            var replica0 = (await fixture.ContainersOfAsync(name)).Single(c => c.Names.Contains($"/{name}"));
            await fixture.Docker.Containers.PauseContainerAsync(replica0.ID).Within(what: "pausing replica 0");
            (callExit, callOutput, callError) = await AfsAsync("call", name, "generate", "--arg", "task_id=4", "--json");
            Assert.True(callExit == 0, callError);
            Assert.Equal($"{name}-1", JsonDocument.Parse(callOutput).RootElement.GetProperty("replica").GetString());
            await fixture.Docker.Containers.UnpauseContainerAsync(replica0.ID).Within(what: "unpausing replica 0");

            var (logsExit, logsOutput, logsError) = await AfsAsync("logs", name, "--host", ssh);
            Assert.True(logsExit == 0, logsError);
            Assert.Contains($"[{name}-1] ", logsOutput);

            var (stopExit, stopOutput, stopError) = await AfsAsync("stop", name, "--host", ssh);
            Assert.True(stopExit == 0, stopError);
            Assert.Equal($"stopped and removed 2 containers of {name}: {name}, {name}-1", stopOutput.Trim());
            Assert.Empty(await fixture.ContainersOfAsync(name));
        }
        finally
        {
            await AfsAsync("cleanup", "--name", name);
        }
    }

    /// <summary><c>afs run --replicas 2</c> as a process, returned once both containers exist and it is still starting them.</summary>
    private async Task<System.Diagnostics.Process> StartRunUntilBothContainersExistAsync(string name)
    {
        var afs = AfsEnvironmentFixture.StartAfsProcess("run", fixture.Image, "--name", name, "--replicas", "2");
        try
        {
            await Bounded.Until(async () => (await fixture.ContainersOfAsync(name)).Count == 2 || afs.HasExited,
                TimeSpan.FromSeconds(60), "afs run creating both containers");
            Assert.False(afs.HasExited, "afs run ended before it could be interrupted");
            return afs;
        }
        catch
        {
            if (!afs.HasExited)
            {
                afs.Kill();
            }
            afs.Dispose();
            throw;
        }
    }

    [Fact]
    public async Task Cleanup_AfterAfsRunWasKilled_RemovesItsContainers()
    {
        var name = fixture.NewName("crash");
        using var afs = await StartRunUntilBothContainersExistAsync(name);
        try
        {
            // SIGKILL as soon as both containers exist: the process gets no chance to clean up after itself.
            afs.Kill(); // SIGKILL while it waits for the replicas to become ready: no handler runs, nothing is released
            await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(10), "the killed afs exiting");
            Assert.True(afs.ExitCode == 137, $"afs run was not killed mid-run: exit {afs.ExitCode}, {await afs.StandardOutput.ReadToEndAsync()}");
        }
        finally
        {
            if (!afs.HasExited)
            {
                afs.Kill();
            }
        }
        var leaked = await fixture.ContainersOfAsync(name);
        Assert.Equal(2, leaked.Count);

        // A dry run names them and removes nothing.
        var (dryExit, dryJson, _) = await AfsAsync("cleanup", "--dry-run", "--json");
        Assert.Equal(0, dryExit);
        var wouldRemove = JsonDocument.Parse(dryJson).RootElement.GetProperty("removed").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString() == name).Select(c => c.GetProperty("container").GetString()).Order().ToList();
        Assert.Equal([name, $"{name}-1"], wouldRemove);
        Assert.Equal(2, (await fixture.ContainersOfAsync(name)).Count);

        // Scoped to this test's environment: the engine is shared, and other validators' containers are not ours to kill.
        var (exit, output, error) = await AfsAsync("cleanup", "--name", name);
        Assert.True(exit == 0, error);
        Assert.StartsWith("removed 2 containers:", output);
        Assert.Matches(new Regex($@"^{name}\s+{name}-1\s+{Regex.Escape(fixture.Image)}\s+", RegexOptions.Multiline), output);
        Assert.Empty(await fixture.ContainersOfAsync(name));

        var (_, again, _) = await AfsAsync("cleanup", "--name", name);
        Assert.Equal($"nothing to clean up: no containers of environment {name}", again.Trim());
    }

    [Fact]
    public async Task Run_TerminatedWhileStarting_RemovesWhatItStarted()
    {
        var name = fixture.NewName("sigterm");
        using var afs = await StartRunUntilBothContainersExistAsync(name);
        try
        {
            // SIGTERM (what docker stop, systemd and CI timeouts send; Ctrl+C's SIGINT takes the same path), not SIGKILL.
            using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", afs.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().Within(what: "kill -TERM");
            }
            await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(20), "afs run ending on SIGTERM");
        }
        finally
        {
            if (!afs.HasExited)
            {
                afs.Kill();
            }
        }
        Assert.Equal(130, afs.ExitCode);
        Assert.Equal("afs run: cancelled; the containers it had started are removed", (await afs.StandardError.ReadToEndAsync().Within()).Trim());
        Assert.Empty(await fixture.ContainersOfAsync(name));
    }

    /// <summary>Starts <c>afs run --rm</c> and returns once it says the environment runs (both replicas ready).</summary>
    private static async Task<(System.Diagnostics.Process Afs, Task<string> Output)> StartRunRmAsync(params string[] args)
    {
        var afs = AfsEnvironmentFixture.StartAfsProcess(["run", .. args, "--rm"]);
        var output = new System.Text.StringBuilder();
        var lines = Task.Run(async () =>
        {
            while (await afs.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
            lock (output)
            {
                return output.ToString();
            }
        });
        string Seen()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
        await Bounded.Until(() => Task.FromResult(Seen().Contains("running until Ctrl+C", StringComparison.Ordinal) || afs.HasExited),
            TimeSpan.FromSeconds(60), "afs run --rm starting the environment");
        if (afs.HasExited) // the message is read only then: stderr stays open while afs runs
        {
            Assert.Fail($"afs run --rm ended: {await afs.StandardError.ReadToEndAsync().Within()}");
        }
        return (afs, lines);
    }

    [Fact]
    public async Task RunRm_KilledWithSigkill_ItsContainersStopAndGoWithinTheirLease()
    {
        var name = fixture.NewName("lease");
        var (afs, _) = await StartRunRmAsync(fixture.Image, "--name", name, "--replicas", "2", "--lease", "10");
        using (afs)
        {
            afs.Kill(); // SIGKILL: no handler runs, nothing is released by afs itself
            await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(10), "the killed afs exiting");
        }
        Assert.Equal(2, (await fixture.ContainersOfAsync(name)).Count(c => c.State == "running"));
        // Nobody renews the lease now: each host stops after 10 s of silence and its engine removes the container.
        await Bounded.Until(async () => (await fixture.ContainersOfAsync(name)).Count == 0, TimeSpan.FromSeconds(40),
            "the containers of the killed afs going away by themselves");
    }

    [Fact]
    public async Task RunRm_Interrupted_RemovesTheContainersAtOnce()
    {
        var name = fixture.NewName("rm");
        var (afs, output) = await StartRunRmAsync(fixture.Image, "--name", name);
        using (afs)
        {
            // The lease is renewed while afs runs: the container outlives it.
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Single(await fixture.ContainersOfAsync(name));
            using (var interrupt = System.Diagnostics.Process.Start("kill", ["-INT", afs.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync().Within(what: "kill -INT");
            }
            await afs.WaitForExitAsync().Within(TimeSpan.FromSeconds(20), "afs run --rm ending on Ctrl+C");
            Assert.Equal(130, afs.ExitCode);
            Assert.Equal($"afs run: stopped; the containers of {name} are removed", (await afs.StandardError.ReadToEndAsync().Within()).Trim());
        }
        Assert.Contains("running until Ctrl+C, which removes the containers", await output.Within());
        Assert.Empty(await fixture.ContainersOfAsync(name));
    }
}
