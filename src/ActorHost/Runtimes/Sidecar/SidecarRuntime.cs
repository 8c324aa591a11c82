using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Affinetes.Protocol;
using Yarp.ReverseProxy.Forwarder;

namespace Affinetes.ActorHost.Runtimes.Sidecar;

/// <summary>
/// Serves an environment that brings its own HTTP server (a FastAPI app, a Node or Go server, any command): the host
/// starts it as a child process on 127.0.0.1, supervises it (restarts it with back-off when it dies, stops it on
/// SIGTERM, reaps orphans as PID 1) and forwards each call to its <c>POST /{method}</c> through YARP. The endpoint
/// layer in front stays the same: auth, limits, deadlines, <c>/ready</c>.
/// </summary>
internal sealed partial class SidecarRuntime(SidecarOptions options, ILogger logger) : IActorRuntime
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);
    /// <summary>A server that stayed up this long starts its next back-off from the beginning.</summary>
    private static readonly TimeSpan StableUptime = TimeSpan.FromSeconds(30);

    private readonly TaskCompletionSource _firstStart = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private SidecarForwarder? _forwarder;
    private volatile SidecarProcess? _current;
    private Task? _supervisor;
    private int _port;

    public string Name => "sidecar";

    public string StartupTimings { get; private set; } = "";

    public IReadOnlyList<MethodDescriptor> Methods { get; private set; } = [];

    public byte[]? OpenApiDocument { get; private set; }

    public event Action<RuntimeHealth>? HealthChanged;

    /// <summary>The port the server listens on, once started.</summary>
    public int Port => _port;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Command.Count == 0 || string.IsNullOrWhiteSpace(options.Command[0]))
        {
            throw new ActorStartupException("the sidecar has no command: set AFFINETES_SIDECAR_COMMAND (a JSON array, e.g. [\"python3\", \"server.py\"]) or 'command' in sidecar.json");
        }
        _port = options.Port ?? FreeLoopbackPort();
        _forwarder = new SidecarForwarder(_port, options.MaxResultBytes);
        if (OperatingSystem.IsLinux())
        {
            OrphanReaper.StartIfInit(pid => pid == _current?.Id);
        }
        _supervisor = Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        await _firstStart.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task SuperviseAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var everReady = false;
        var failedStarts = 0;
        var backoff = FirstBackoff;
        while (!stop.IsCancellationRequested)
        {
            SidecarProcess process;
            try
            {
                process = SidecarProcess.Start(options.Command, ChildEnvironment());
            }
            catch (ActorStartupException e)
            {
                Fail(e.Message, everReady);
                return;
            }
            _current = process;
            LogStarted(logger, string.Join(' ', options.Command), process.Id, _port);
            var opened = await WaitForPortAsync(process, stop).ConfigureAwait(false);
            if (opened == PortState.Stopping)
            {
                return;
            }
            if (opened == PortState.TimedOut)
            {
                process.Kill();
                Fail($"the sidecar did not open port {_port} on 127.0.0.1 within {options.StartTimeout.TotalSeconds:0.#} s (it must listen on $PORT){LastLines(process)}", everReady);
                return;
            }
            if (opened == PortState.Exited)
            {
                var code = await process.Exited.ConfigureAwait(false);
                failedStarts++;
                var reason = $"the sidecar exited with code {code} before opening port {_port} (start {failedStarts} of {options.MaxStartAttempts}){LastLines(process)}";
                if (failedStarts >= options.MaxStartAttempts)
                {
                    Fail(reason, everReady);
                    return;
                }
                if (everReady)
                {
                    HealthChanged?.Invoke(new RuntimeHealth(false, reason));
                }
                LogRestarting(logger, reason, backoff.TotalSeconds);
                if (!await DelayAsync(backoff, stop).ConfigureAwait(false))
                {
                    return;
                }
                backoff = Next(backoff);
                continue;
            }

            failedStarts = 0;
            if (!everReady)
            {
                try
                {
                    await LoadMethodsAsync(stop).ConfigureAwait(false);
                }
                catch (ActorStartupException e)
                {
                    await process.StopAsync(options.StopGrace).ConfigureAwait(false);
                    Fail(e.Message, everReady);
                    return;
                }
                everReady = true;
                StartupTimings = $"sidecar: server up on port {_port} in {clock.ElapsedMilliseconds} ms";
                _firstStart.TrySetResult();
            }
            else
            {
                HealthChanged?.Invoke(new RuntimeHealth(true, null));
            }

            var upSince = Stopwatch.StartNew();
            try
            {
                await process.Exited.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (upSince.Elapsed > StableUptime)
            {
                backoff = FirstBackoff;
            }
            var exit = $"the sidecar exited with code {await process.Exited.ConfigureAwait(false)}; restarting in {backoff.TotalSeconds:0.#} s{LastLines(process)}";
            HealthChanged?.Invoke(new RuntimeHealth(false, exit));
            LogRestarting(logger, exit, backoff.TotalSeconds);
            process.Dispose();
            if (!await DelayAsync(backoff, stop).ConfigureAwait(false))
            {
                return;
            }
            backoff = Next(backoff);
        }
    }

    private static TimeSpan Next(TimeSpan backoff) => backoff * 2 > MaxBackoff ? MaxBackoff : backoff * 2;

    private static string LastLines(SidecarProcess process) => process.Tail is { Length: > 0 } tail ? $"; its last lines:\n{tail}" : "; it wrote nothing";

    private void Fail(string reason, bool everReady)
    {
        if (everReady)
        {
            HealthChanged?.Invoke(new RuntimeHealth(false, reason, Final: true));
        }
        else
        {
            _firstStart.TrySetException(new ActorStartupException(reason));
        }
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private enum PortState
    {
        Open,
        Exited,
        TimedOut,
        Stopping,
    }

    private async Task<PortState> WaitForPortAsync(SidecarProcess process, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (stop.IsCancellationRequested)
            {
                return PortState.Stopping;
            }
            if (process.Exited.IsCompleted)
            {
                return PortState.Exited;
            }
            if (clock.Elapsed > options.StartTimeout)
            {
                return PortState.TimedOut;
            }
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
            attempt.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                await socket.ConnectAsync(IPAddress.Loopback, _port, attempt.Token).ConfigureAwait(false);
                return PortState.Open;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
            }
            try
            {
                await Task.WhenAny(process.Exited, Task.Delay(25, stop)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>The server's own OpenAPI document (kept to serve as it is) and the methods in it, else the declared ones.</summary>
    private async Task LoadMethodsAsync(CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        string? why = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _forwarder!.Destination + WireRoutes.OpenApi);
            using var response = await _forwarder.Client.SendAsync(request, timeout.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode && JsonNode.Parse(bytes) is JsonObject document && document["paths"] is JsonObject)
            {
                OpenApiDocument = bytes;
                Methods = Merge(SidecarMethods.FromOpenApi(document), options.DeclaredMethods);
                return;
            }
            why = response.IsSuccessStatusCode ? "is not an OpenAPI document" : $"answered {(int)response.StatusCode}";
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException)
        {
            why = $"could not be read ({e.Message})";
        }
        if (options.DeclaredMethods.Count == 0)
        {
            throw new ActorStartupException($"the sidecar's {WireRoutes.OpenApi} {why} and no methods are declared: serve an OpenAPI document or list the methods in sidecar.json (\"methods\": [\"evaluate\"])");
        }
        Methods = SidecarMethods.Declared(options.DeclaredMethods);
    }

    private static IReadOnlyList<MethodDescriptor> Merge(IReadOnlyList<MethodDescriptor> fromDocument, IReadOnlyList<string> declared) =>
    [
        .. fromDocument.Concat(SidecarMethods.Declared(declared.Where(d => fromDocument.All(m => m.Name != d))))
            .OrderBy(m => m.Name, StringComparer.Ordinal),
    ];

    private Dictionary<string, string?> ChildEnvironment()
    {
        var port = _port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string?>
        {
            ["PORT"] = port,
            [HostEnvironment.Port] = port,
            [HostEnvironment.Bind] = null,
        };
        foreach (var hidden in options.HiddenVariables)
        {
            environment[hidden] = null;
        }
        return environment;
    }

    public async Task<InvokeResult> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> body, BodyShape shape, CancellationToken cancellationToken)
    {
        var (json, error) = KeywordArguments(body, shape);
        if (error is not null)
        {
            return InvokeResult.Failure(error with { Method = method.Name });
        }
        var answer = await _forwarder!.PostAsync(method.Name, json!, cancellationToken).ConfigureAwait(false);
        if (answer.Failure is AnswerTooLargeException tooLarge)
        {
            return InvokeResult.Failure(new ErrorDetail
            {
                Code = ErrorCodes.ResultTooLarge,
                Message = $"the sidecar's answer to {method.Name} passed the host's limit of {ResultLimits.Describe(tooLarge.Limit)} (AFFINETES_MAX_RESULT_BYTES); " +
                    "the rest was not read and nothing of it was sent",
                Method = method.Name,
            });
        }
        if (answer.Error != ForwarderError.None)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var notAnswering = answer.Error is ForwarderError.Request or ForwarderError.RequestCreation;
            return InvokeResult.Failure(new ErrorDetail
            {
                Code = notAnswering ? ErrorCodes.NotReady : ErrorCodes.ActorError,
                Message = notAnswering
                    ? $"the sidecar is not answering on port {_port}: {Describe(answer.Failure)}"
                    : $"forwarding {method.Name} to the sidecar failed ({answer.Error}): {Describe(answer.Failure)}",
                Type = notAnswering ? null : answer.Error.ToString(),
                Method = method.Name,
            });
        }
        return Interpret(method.Name, answer);
    }

    /// <summary>A forwarding failure with its cause ("An error occurred while sending the request" says nothing alone).</summary>
    private static string? Describe(Exception? failure) =>
        failure?.InnerException is { } inner && inner.Message != failure.Message ? $"{failure.Message} ({inner.GetBaseException().Message})" : failure?.Message;

    /// <summary>The call's keyword arguments as the JSON object the server gets; a sidecar takes no positional arguments.</summary>
    private static (byte[]? Json, ErrorDetail? Error) KeywordArguments(ReadOnlyMemory<byte> body, BodyShape shape)
    {
        if (RequestBody.IsBlank(body.Span))
        {
            return ("{}"u8.ToArray(), null);
        }
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return (null, new ErrorDetail { Code = ErrorCodes.InvalidJson, Message = $"the request body is not valid JSON: {e.Message}" });
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, new ErrorDetail { Code = ErrorCodes.InvalidJson, Message = "the request body must be a JSON object" });
        }
        var split = shape == BodyShape.Call || (root.EnumerateObject().Any() && root.EnumerateObject().All(p => p.Name is "args" or "kwargs"));
        if (!split)
        {
            return (body.ToArray(), null);
        }
        if (root.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Array && args.GetArrayLength() > 0)
        {
            return (null, new ErrorDetail
            {
                Code = ErrorCodes.InvalidArguments,
                Message = "a sidecar's methods take keyword arguments only; pass them in 'kwargs'",
                Parameter = "args",
            });
        }
        if (!root.TryGetProperty("kwargs", out var kwargs) || kwargs.ValueKind == JsonValueKind.Null)
        {
            return ("{}"u8.ToArray(), null);
        }
        return kwargs.ValueKind == JsonValueKind.Object
            ? (Encoding.UTF8.GetBytes(kwargs.GetRawText()), null)
            : (null, new ErrorDetail { Code = ErrorCodes.InvalidArguments, Message = "'kwargs' must be a JSON object", Parameter = "kwargs" });
    }

    /// <summary>A 2xx answer is the result (as JSON; other text as a JSON string); errors keep the server's own message.</summary>
    private static InvokeResult Interpret(string method, ForwardedAnswer answer)
    {
        if (answer.Status is >= 200 and < 300)
        {
            if (answer.Body.Length == 0)
            {
                return InvokeResult.SuccessNull();
            }
            return IsJson(answer.Body)
                ? InvokeResult.Success(answer.Body)
                : InvokeResult.Success(JsonSerializer.SerializeToUtf8Bytes(Encoding.UTF8.GetString(answer.Body), SidecarJson.Default.String));
        }
        var (message, parameter) = Detail(answer.Body);
        var code = answer.Status switch
        {
            404 or 405 => ErrorCodes.MethodNotFound,
            400 or 422 => ErrorCodes.InvalidArguments,
            _ => ErrorCodes.ActorError,
        };
        return InvokeResult.Failure(new ErrorDetail
        {
            Code = code,
            Message = code == ErrorCodes.MethodNotFound ? $"Method not found: {method} (the sidecar answered {answer.Status}: {message})" : message,
            Parameter = parameter,
            Type = code == ErrorCodes.ActorError ? $"HTTP {answer.Status}" : null,
            Method = method,
        });
    }

    private static bool IsJson(byte[] body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = ResultLimits.MaxDepth });
        try
        {
            while (reader.Read())
            {
            }
            return reader.BytesConsumed == body.Length || body.AsSpan((int)reader.BytesConsumed).Trim(" \t\r\n"u8).IsEmpty;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// The message of an error answer: FastAPI's <c>{"detail": "..."}</c>, its validation list
    /// <c>{"detail": [{"loc": ["body", "task_id"], "msg": "Field required"}]}</c> (naming the parameter), or the text.
    /// </summary>
    private static (string Message, string? Parameter) Detail(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body).Trim();
        try
        {
            if (JsonNode.Parse(text) is JsonObject o && o["detail"] is { } detail)
            {
                if (detail is JsonValue value && value.GetValueKind() == JsonValueKind.String)
                {
                    return (value.GetValue<string>(), null);
                }
                if (detail is JsonArray { Count: > 0 } problems && problems[0] is JsonObject first)
                {
                    var location = (first["loc"] as JsonArray)?.LastOrDefault()?.ToString();
                    var messages = problems.OfType<JsonObject>().Select(p =>
                        $"{(p["loc"] as JsonArray)?.LastOrDefault()?.ToString() ?? "?"}: {p["msg"]?.ToString() ?? p.ToJsonString()}");
                    return (string.Join("; ", messages), location);
                }
                return (detail.ToJsonString(), null);
            }
        }
        catch (JsonException)
        {
        }
        return (text.Length > 2000 ? text[..2000] + "..." : text.Length == 0 ? "(empty answer)" : text, null);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (OperatingSystem.IsLinux())
        {
            OrphanReaper.Stop();
        }
        if (_current is { } process)
        {
            await process.StopAsync(options.StopGrace).ConfigureAwait(false);
            LogStopped(logger, process.Id);
        }
        if (_supervisor is not null)
        {
            await _supervisor.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        _current?.Dispose();
        _forwarder?.Dispose();
        _stopping.Dispose();
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "sidecar started: {Command} (pid {Pid}, port {Port})")]
    private static partial void LogStarted(ILogger logger, string command, int pid, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Reason} (next start in {Seconds} s)")]
    private static partial void LogRestarting(ILogger logger, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "sidecar stopped (pid {Pid})")]
    private static partial void LogStopped(ILogger logger, int pid);
}
