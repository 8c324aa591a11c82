using System.Diagnostics;
using System.Net.Http.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Logging;

namespace Affinetes.ValidatorClient.Gateway;

/// <summary>
/// One <c>affinetes-llm-gateway</c> process started by this client: its API on a unix socket in a directory that
/// containers get bind-mounted read-only (and on a TCP address when environments far away reach it through a public
/// URL), its admin API on an owner-only socket beside it (in a 0700 directory). The
/// real key reaches it only through its environment (the variable is named on its command line, never the value).
/// Killed, and its directory removed, when disposed or when this process exits.
/// </summary>
internal sealed partial class LlmGatewayProcess : IAsyncDisposable
{
    /// <summary>The name of the API socket in <see cref="ApiDirectory"/>.</summary>
    public const string ApiSocketName = "llm.sock";

    /// <summary>The environment variable that names the gateway executable.</summary>
    public const string PathVariable = "AFFINETES_GATEWAY_PATH";

    private const string ExecutableName = "affinetes-llm-gateway";

    private readonly Process _process;
    private readonly string _root;
    private readonly FileStream _owner;
    private readonly HttpClient _admin;
    private readonly ILogger _logger;
    private int _disposed;

    private LlmGatewayProcess(Process process, string root, FileStream owner, ILogger logger)
    {
        _process = process;
        _root = root;
        _owner = owner;
        _logger = logger;
        var adminSocket = Path.Combine(root, "admin.sock");
        _admin = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, ct) => await UnixSocketEndpoints.ConnectUnixAsync(adminSocket, ct),
        })
        { BaseAddress = new Uri("http://gateway-admin.invalid/"), Timeout = TimeSpan.FromSeconds(30) };
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    /// <summary>The directory holding the API socket (<see cref="ApiSocketName"/>), mode 0755; mounted read-only into containers.</summary>
    public string ApiDirectory => Path.Combine(_root, "api");

    /// <summary>Whether the process still runs.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Starts the gateway for <paramref name="access"/> and returns once it said it is ready.</summary>
    public static async Task<LlmGatewayProcess> StartAsync(LlmAccessOptions access, ILogger logger, CancellationToken cancellationToken)
    {
        var executable = Locate(access.GatewayExecutable);
        // Directories of gateways whose afs was killed (SIGKILL runs no cleanup) go first.
        GatewayDirectories.RemoveAbandoned();
        var (root, owner) = GatewayDirectories.Create(); // 0700: the admin socket is in it
        var api = Directory.CreateDirectory(Path.Combine(root, "api")).FullName;
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(api, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
                | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var start = executable.EndsWith(".dll", StringComparison.Ordinal)
            ? new ProcessStartInfo("dotnet") { ArgumentList = { executable } }
            : new ProcessStartInfo(executable);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        // --exit-with-stdin: the gateway holds the real key; it stops when this process's end of its stdin pipe
        // closes, which the kernel does however this process ends (SIGKILL included, when no handler runs).
        foreach (var arg in new[] { "--upstream", access.Upstream, "--unix-socket", Path.Combine(api, ApiSocketName), "--admin-unix-socket", Path.Combine(root, "admin.sock"), "--exit-with-stdin" })
        {
            start.ArgumentList.Add(arg);
        }
        if (access.ResolvedListen is { } listen)
        {
            // Environments far from this machine (Basilica) reach it there, through the proxy of its public URL; tokens guard it.
            start.ArgumentList.Add("--listen");
            start.ArgumentList.Add(listen);
        }
        // The key goes by the variable's name: the gateway reads the value from the environment it inherits.
        if (access.KeyVariable is not null && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(access.KeyVariable)))
        {
            start.ArgumentList.Add("--upstream-key-env");
            start.ArgumentList.Add(access.KeyVariable);
        }
        else
        {
            start.Environment.Remove("AFFINETES_GATEWAY_UPSTREAM_KEY");
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            await owner.DisposeAsync();
            Directory.Delete(root, recursive: true);
            throw new EnvironmentOptionsException($"the LLM gateway {executable} cannot be started: {e.Message}");
        }
        var gateway = new LlmGatewayProcess(process, root, owner, logger);
        var errors = new List<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                lock (errors)
                {
                    if (errors.Count < 50)
                    {
                        errors.Add(line);
                    }
                }
                LogGatewayLine(logger, line);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(30));
            var ready = await process.StandardOutput.ReadLineAsync(limit.Token);
            if (ready is null || !ready.Contains("\"ready\"", StringComparison.Ordinal))
            {
                await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
                string said;
                lock (errors)
                {
                    said = string.Join(" / ", errors);
                }
                throw new EnvironmentUnavailableException($"the LLM gateway ({executable}) did not start{(process.HasExited ? $" (exit code {process.ExitCode})" : "")}", reason: said);
            }
            LogGatewayStarted(logger, access.Upstream, process.Id);
            return gateway;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await gateway.DisposeAsync();
            throw new EnvironmentUnavailableException($"the LLM gateway ({executable}) said nothing for 30 s after it started");
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The gateway executable: given, <c>$AFFINETES_GATEWAY_PATH</c>, next to this program (a project reference copies
    /// it there), or a checkout's published one (<c>scripts/publish-gateway.sh</c>) above this program.
    /// </summary>
    internal static string Locate(string? given)
    {
        if ((given ?? Environment.GetEnvironmentVariable(PathVariable)) is { Length: > 0 } named)
        {
            return File.Exists(named) ? Path.GetFullPath(named)
                : throw new EnvironmentOptionsException($"the LLM gateway executable {named} does not exist; publish it with scripts/publish-gateway.sh or fix {PathVariable}");
        }
        var beside = Path.Combine(AppContext.BaseDirectory, ExecutableName);
        // An apphost unpacked from a package may have lost its execute bit (NuGet keeps none): its .dll runs then.
        if (File.Exists(beside) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(beside) & UnixFileMode.UserExecute) != 0))
        {
            return beside;
        }
        // Where the ValidatorClient package puts it: its own directory beside the program.
        var packaged = Path.Combine(AppContext.BaseDirectory, ExecutableName, ExecutableName + ".dll");
        if (File.Exists(packaged))
        {
            return packaged;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var published = Path.Combine(dir.FullName, "artifacts", "gateway", "linux-x64", ExecutableName);
            if (File.Exists(published))
            {
                return published;
            }
        }
        if (File.Exists(beside + ".dll"))
        {
            return beside + ".dll";
        }
        throw new EnvironmentOptionsException($"no LLM gateway executable ({ExecutableName}) next to this program or in a checkout's artifacts/gateway; run scripts/publish-gateway.sh, or set {PathVariable}");
    }

    /// <summary>Registers an environment; returns its token.</summary>
    public async Task<string> RegisterAsync(GatewayTenant environment, CancellationToken cancellationToken)
    {
        using var response = await _admin.PostAsJsonAsync(GatewayRoutes.Tenants, environment, GatewayJson.Default.GatewayTenant, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new EnvironmentOptionsException($"the LLM gateway refused the environment's limits ({(int)response.StatusCode}): {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
        var created = await response.Content.ReadFromJsonAsync(GatewayJson.Default.GatewayTenantCreated, cancellationToken);
        return created!.Token;
    }

    /// <summary>Removes an environment: its token stops working at once. Nothing when the gateway is gone.</summary>
    public async Task RemoveAsync(string name)
    {
        if (!IsRunning)
        {
            return;
        }
        try
        {
            using var response = await _admin.DeleteAsync($"{GatewayRoutes.Tenants}/{name}", CancellationToken.None);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            LogGatewayLine(_logger, $"removing {name} from the gateway failed: {e.Message}");
        }
    }

    /// <summary>The named tasks' records since they were last collected; the gateway forgets them.</summary>
    public async Task<CollectedTasks> CollectAsync(string name, IReadOnlyList<string> tasks, CancellationToken cancellationToken)
    {
        using var content = JsonContent.Create(new TaskCollection { Tasks = tasks }, GatewayJson.Default.TaskCollection);
        using var response = await _admin.PostAsync($"{GatewayRoutes.Usage}/{name}{GatewayRoutes.CollectSuffix}", content, cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.CollectedTasks, cancellationToken))!;
    }

    /// <summary>The usage of one environment as the gateway counted it.</summary>
    public async Task<TenantUsage> UsageAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await _admin.GetAsync($"{GatewayRoutes.Usage}/{name}", cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync(GatewayJson.Default.TenantUsage, cancellationToken))!;
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        Kill();
        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
        _admin.Dispose();
        await _owner.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(6001, LogLevel.Information, "LLM gateway for {Upstream} started (pid {Pid})")]
    private static partial void LogGatewayStarted(ILogger logger, string upstream, int pid);

    [LoggerMessage(6002, LogLevel.Debug, "llm gateway: {Line}")]
    private static partial void LogGatewayLine(ILogger logger, string line);
}

/// <summary>
/// An environment's registration with a gateway: its name there and its token, and what its containers get; with a
/// <paramref name="PublicBaseUrl"/>, what a deployment far from this machine gets instead.
/// </summary>
internal sealed record GatewayAccess(LlmGatewayProcess Gateway, string Name, string Token, IReadOnlyList<string> EgressHosts, string? PublicBaseUrl = null)
{
    /// <summary>The gateway's base URL as the environment's actor reaches it: the public one, else the relay on its own 127.0.0.1.</summary>
    public string ActorBaseUrl => PublicBaseUrl ?? BaseUrl(RelayPort);

    /// <summary>The variables of a deployment that reaches the gateway at its public URL: the base URL and the token under the usual names.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RemoteVariables() =>
    [
        new("OPENAI_BASE_URL", ActorBaseUrl),
        new("AFFINETES_LLM_BASE_URL", ActorBaseUrl),
        new("OPENAI_API_KEY", Token),
        new("CHUTES_API_KEY", Token),
    ];

    /// <summary>Where containers find the gateway's directory (read-only mount).</summary>
    public const string MountPath = "/run/affinetes/llm";

    /// <summary>The port on the container's 127.0.0.1 the host relays to the gateway (in the container's own network namespace).</summary>
    public const int RelayPort = 8791;

    /// <summary>The actor's base URL of the gateway for a relay on <paramref name="port"/>.</summary>
    public static string BaseUrl(int port) => $"http://127.0.0.1:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}{GatewayRoutes.Api}";

    /// <summary>The environment variables a container gets: the relay's settings, the base URL and the token under the usual names.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ContainerVariables(int port)
    {
        var baseUrl = BaseUrl(port);
        var variables = new List<KeyValuePair<string, string>>
        {
            new(HostEnvironment.LlmSocket, $"{MountPath}/{LlmGatewayProcess.ApiSocketName}"),
            new(HostEnvironment.LlmRelayPort, port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("OPENAI_BASE_URL", baseUrl),
            new("AFFINETES_LLM_BASE_URL", baseUrl),
            new("OPENAI_API_KEY", Token),
            new("CHUTES_API_KEY", Token),
        };
        if (EgressHosts.Count > 0)
        {
            var proxy = $"http://affinetes:{Token}@127.0.0.1:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            variables.AddRange([new("HTTPS_PROXY", proxy), new("https_proxy", proxy), new("NO_PROXY", "127.0.0.1,localhost"), new("no_proxy", "127.0.0.1,localhost")]);
        }
        return variables;
    }
}
