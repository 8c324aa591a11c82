using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Affinetes.ActorHost.Hosting;
using Affinetes.ActorHost.Runtimes;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Endpoints;

/// <summary>
/// <c>POST /call</c> and <c>POST /{method}</c>: limits, deadline, dispatch to the runtime, and the answer in the
/// original's envelope. Expected outcomes (unknown method, bad arguments, actor errors) are values mapped to status
/// codes here, never exceptions thrown through the stack.
/// </summary>
internal sealed class CallEndpoint(IActorRuntime runtime, Readiness readiness, ActorHostOptions options, ILogger<CallEndpoint> logger)
{
    private static readonly byte[] SuccessPrefix = "{\"status\":\"success\",\"result\":"u8.ToArray();
    private static readonly byte[] SuccessSuffix = ",\"error\":null}"u8.ToArray();

    private Dictionary<string, MethodDescriptor>? _methods;
    private int _inFlight;

    /// <summary>Calls being served right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public Task HandleCallAsync(HttpContext context) => HandleAsync(context, methodFromRoute: null);

    /// <summary>The host's own GET routes: an Actor method of one of these names is reached only through <c>/call</c>.</summary>
    private static readonly HashSet<string> HostRoutes = new(StringComparer.Ordinal)
    {
        WireRoutes.Health[1..], WireRoutes.Ready[1..], WireRoutes.Methods[1..], WireRoutes.OpenApi[1..],
    };

    public Task HandleMethodAsync(HttpContext context)
    {
        var method = (string)context.Request.RouteValues["method"]!;
        if (HostRoutes.Contains(method))
        {
            context.Response.Headers.Allow = "GET";
            return ErrorResponses.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, new ErrorDetail
            {
                Code = ErrorCodes.HttpMethodNotAllowed,
                Message = $"/{method} is the host's own GET endpoint; an Actor method named '{method}' is called with POST /call {{\"method\": \"{method}\", ...}}",
                Method = method,
            });
        }
        return HandleAsync(context, method);
    }

    private async Task HandleAsync(HttpContext context, string? methodFromRoute)
    {
        var started = Stopwatch.GetTimestamp();
        var methodName = methodFromRoute ?? "?";
        var status = StatusCodes.Status200OK;
        var entered = false;
        try
        {
            if (!readiness.IsReady)
            {
                status = await WriteNotReadyAsync(context, methodFromRoute);
                return;
            }
            // A call counts against the limit only once its body is read: connections that trickle a body in hold
            // no slot (and Kestrel drops those slower than its minimum data rate).
            var (body, bodyError) = await ReadBodyAsync(context);
            if (bodyError is not null)
            {
                status = await ErrorResponses.WriteAsync(context, bodyError.Value.Status, bodyError.Value.Detail with { Method = methodFromRoute });
                return;
            }
            if (Interlocked.Increment(ref _inFlight) > options.MaxConcurrentCalls)
            {
                Interlocked.Decrement(ref _inFlight);
                context.Response.Headers.RetryAfter = "1";
                status = await ErrorResponses.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail
                {
                    Code = ErrorCodes.Overloaded,
                    Message = $"the host is serving its limit of {options.MaxConcurrentCalls} calls; retry later",
                    Method = methodFromRoute,
                });
                return;
            }
            entered = true;

            var (head, parseError) = methodFromRoute is null ? CallHead.ReadCall(body!) : (new CallHead(methodFromRoute, default), CallHead.CheckFlat(body!));
            var name = head.Method;
            methodName = name ?? "?";
            if (parseError is not null)
            {
                status = await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, parseError with { Method = name });
                return;
            }
            var methods = _methods ??= MethodTable(runtime.Methods);
            if (!methods.TryGetValue(name!, out var method))
            {
                status = await ErrorResponses.WriteAsync(context, name!.Length == 0 ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound,
                    MethodNames.NotFound(name, runtime.Methods));
                return;
            }

            var (timeout, timeoutError) = ReadTimeout(context);
            if (timeoutError is not null)
            {
                status = await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, timeoutError with { Method = name });
                return;
            }
            if (head.Timeout is { Present: true, Valid: false })
            {
                status = await WriteFailedAsync(context, TimeoutKwarg.InvalidMessage);
                return;
            }
            status = await InvokeAsync(context, method, body!, methodFromRoute is null ? BodyShape.Call : BodyShape.Flat, timeout, head.Timeout);
        }
        finally
        {
            if (entered)
            {
                Interlocked.Decrement(ref _inFlight);
            }
            if (logger.IsEnabled(LogLevel.Information))
            {
                logger.Log(LogLevel.Information, CallLine.EventId, new CallLine(methodName, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds), null, CallLine.Format);
            }
        }
    }

    /// <summary>Every name a method answers to: its own and its aliases (a C# method's own spelling).</summary>
    private static Dictionary<string, MethodDescriptor> MethodTable(IReadOnlyList<MethodDescriptor> methods)
    {
        var table = methods.ToDictionary(m => m.Name, StringComparer.Ordinal);
        foreach (var method in methods)
        {
            foreach (var alias in method.Aliases ?? [])
            {
                table.TryAdd(alias, method);
            }
        }
        return table;
    }

    private async Task<int> InvokeAsync(HttpContext context, MethodDescriptor method, byte[] body, BodyShape shape, TimeSpan? timeout, TimeoutKwargValue timeoutKwarg)
    {
        // Two limits: the caller's deadline header (504), and the original's `timeout` kwarg + grace (200 "failed").
        using var deadline = timeout is null ? null : new CancellationTokenSource(timeout.Value);
        using var declared = timeoutKwarg.Limit is { } limit ? new CancellationTokenSource(limit) : null;
        using var linked = deadline is null && declared is null
            ? null
            : CancellationTokenSource.CreateLinkedTokenSource(deadline?.Token ?? default, declared?.Token ?? default, context.RequestAborted);
        var token = linked?.Token ?? context.RequestAborted;
        Task<InvokeResult> call;
        var guard = deadline is null && declared is null ? null : new InlineGuard(context, method.Name, timeout, timeoutKwarg, deadline, declared);
        using (guard?.Arm(token))
        {
            call = runtime.InvokeAsync(method, body, shape, token);
            if (guard?.Disarm() == false)
            {
                // The call held this thread past a deadline, and the deadline's answer was given meanwhile.
                _ = call.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return await guard.Answered;
            }
        }
        InvokeResult result;
        try
        {
            result = await call;
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true)
        {
            return await WriteDeadlineExceededAsync(context, method.Name, timeout!.Value);
        }
        catch (OperationCanceledException) when (declared?.IsCancellationRequested == true)
        {
            return await WriteFailedAsync(context, TimeoutKwarg.ExceededMessage(timeoutKwarg.PythonText()));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return StatusCodes.Status499ClientClosedRequest;
        }

        if (!result.Succeeded)
        {
            var error = result.Error!;
            if (!options.Debug)
            {
                error = error with { Traceback = null };
            }
            return await ErrorResponses.WriteAsync(context, ErrorResponses.StatusFor(error.Code), error);
        }
        if (result.ResultJson.Length > options.MaxResultBytes || (result.ResultJson.Length > MaxResultBytesOf(context) && MaxResultBytesOf(context) > 0))
        {
            return await WriteTooLargeAsync(context, method.Name, result.ResultJson.Length);
        }
        await WriteSuccessAsync(context, result.ResultJson);
        return StatusCodes.Status200OK;
    }

    private static Task<int> WriteDeadlineExceededAsync(HttpContext context, string method, TimeSpan timeout) =>
        ErrorResponses.WriteAsync(context, StatusCodes.Status504GatewayTimeout, new ErrorDetail
        {
            Code = ErrorCodes.DeadlineExceeded,
            Message = $"{method} did not finish within its deadline of {timeout.TotalSeconds:0.###} s and was cancelled",
            Method = method,
        });

    /// <summary>
    /// Answers a call's deadline (or its declared <c>timeout</c>) while the runtime holds the handler's thread in the
    /// call (a quick call it ran on the calling thread that turned out slow): from the timer's thread, and only while
    /// armed, so that exactly one of the handler and the guard answers.
    /// </summary>
    private sealed class InlineGuard(HttpContext context, string method, TimeSpan? timeout, TimeoutKwargValue timeoutKwarg,
        CancellationTokenSource? deadline, CancellationTokenSource? declared)
    {
        private const int Armed = 1;
        private const int Disarmed = 2;
        private const int Answering = 3;
        private int _state;
        private Task<int>? _answered;

        /// <summary>The guard's answer (its status), once <see cref="Disarm"/> returned false.</summary>
        public Task<int> Answered => Volatile.Read(ref _answered)!;

        public CancellationTokenRegistration Arm(CancellationToken token)
        {
            _state = Armed;
            return token.UnsafeRegister(static state => ((InlineGuard)state!).Fire(), this);
        }

        /// <summary>True: the handler answers. False: the guard has answered (or is answering), see <see cref="Answered"/>.</summary>
        public bool Disarm() => Interlocked.CompareExchange(ref _state, Disarmed, Armed) == Armed;

        private void Fire()
        {
            var passed = deadline?.IsCancellationRequested == true;
            if (!passed && declared?.IsCancellationRequested != true)
            {
                return; // the caller left: nobody to answer; the call's thread answers nothing when it returns
            }
            var answer = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _answered, answer.Task);
            if (Interlocked.CompareExchange(ref _state, Answering, Armed) != Armed)
            {
                return;
            }
            _ = AnswerAsync(passed, answer);
        }

        private async Task AnswerAsync(bool passed, TaskCompletionSource<int> answer)
        {
            try
            {
                // The connection stays with the call until it returns: the client must not send its next call on it.
                context.Response.Headers.Connection = "close";
                var status = passed
                    ? await WriteDeadlineExceededAsync(context, method, timeout!.Value)
                    : await WriteFailedAsync(context, TimeoutKwarg.ExceededMessage(timeoutKwarg.PythonText()));
                await context.Response.CompleteAsync(); // the handler is still in the call: the answer ends here
                answer.TrySetResult(status);
            }
            catch (Exception e)
            {
                answer.TrySetException(e); // e.g. the caller left while it was written: the handler sees it as it would its own
            }
        }
    }

    /// <summary>The caller's own result limit (<see cref="WireHeaders.MaxResultBytes"/>); 0 when it sent none or one that is not a positive number.</summary>
    private static long MaxResultBytesOf(HttpContext context) =>
        context.Request.Headers[WireHeaders.MaxResultBytes] is [{ } text] && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit > 0
            ? limit
            : 0;

    /// <summary>A result over the host's or the caller's limit: nothing of it is sent, the answer says its size and the limit.</summary>
    private Task<int> WriteTooLargeAsync(HttpContext context, string method, long size)
    {
        var caller = MaxResultBytesOf(context);
        var (limit, whose) = caller > 0 && caller < options.MaxResultBytes
            ? (caller, "the caller's limit")
            : (options.MaxResultBytes, "the host's limit (AFFINETES_MAX_RESULT_BYTES)");
        return ErrorResponses.WriteAsync(context, StatusCodes.Status500InternalServerError, new ErrorDetail
        {
            Code = ErrorCodes.ResultTooLarge,
            Message = $"the result of {method} is {ResultLimits.Describe(size)} ({size} bytes), over {whose} of {ResultLimits.Describe(limit)}; nothing of it was sent",
            Method = method,
        });
    }

    private static async Task WriteSuccessAsync(HttpContext context, ReadOnlyMemory<byte> resultJson)
    {
        var response = context.Response;
        response.ContentType = "application/json";
        var length = SuccessPrefix.Length + resultJson.Length + SuccessSuffix.Length;
        response.ContentLength = length;
        // One span for the whole answer: each GetSpan of Kestrel's response writer takes its lock.
        var writer = response.BodyWriter;
        var span = writer.GetSpan(length);
        SuccessPrefix.CopyTo(span);
        resultJson.Span.CopyTo(span[SuccessPrefix.Length..]);
        SuccessSuffix.CopyTo(span[(SuccessPrefix.Length + resultJson.Length)..]);
        writer.Advance(length);
        await writer.FlushAsync();
    }

    /// <summary>The original's answer for a call it gave up: 200 <c>{"status":"failed","result":{"error":...},"error":null}</c>.</summary>
    private static async Task<int> WriteFailedAsync(HttpContext context, string error)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("status", CallStatus.Failed);
            json.WriteStartObject("result");
            json.WriteString("error", error);
            json.WriteEndObject();
            json.WriteNull("error");
            json.WriteEndObject();
        }
        await response.BodyWriter.FlushAsync(context.RequestAborted);
        return StatusCodes.Status200OK;
    }

    /// <summary>
    /// Reads the body up to the limit. A body over it is read to its end and discarded (up to Kestrel's hard cap,
    /// four times the limit) so that the client gets a clean 413 instead of a connection cut mid-upload.
    /// </summary>
    private async Task<(byte[]? Body, (int Status, ErrorDetail Detail)? Error)> ReadBodyAsync(HttpContext context)
    {
        var request = context.Request;
        var tooLarge = request.ContentLength > options.MaxBodyBytes;
        var reader = request.BodyReader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                tooLarge |= read.Buffer.Length > options.MaxBodyBytes;
                if (tooLarge)
                {
                    reader.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        return (null, TooLarge());
                    }
                    continue;
                }
                if (read.IsCompleted)
                {
                    var bytes = read.Buffer.ToArray();
                    reader.AdvanceTo(read.Buffer.End);
                    return (bytes, null);
                }
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (BadHttpRequestException e)
        {
            // e.g. 408: the body came slower than the minimum data rate; Kestrel closes the connection.
            return (null, (e.StatusCode, new ErrorDetail { Code = ErrorCodes.BadRequest, Message = $"the request body could not be read: {e.Message}" }));
        }
    }

    private (int, ErrorDetail) TooLarge() => (StatusCodes.Status413PayloadTooLarge, new ErrorDetail
    {
        Code = ErrorCodes.PayloadTooLarge,
        Message = $"the request body is larger than the host's limit of {options.MaxBodyBytes} bytes (AFFINETES_MAX_BODY_BYTES)",
    });

    private (TimeSpan? Timeout, ErrorDetail? Error) ReadTimeout(HttpContext context)
    {
        var header = context.Request.Headers[WireHeaders.Timeout];
        if (header.Count == 0)
        {
            return (options.CallTimeout, null);
        }
        if (double.TryParse(header[0], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= 86_400)
        {
            return (TimeSpan.FromSeconds(seconds), null);
        }
        return (null, new ErrorDetail
        {
            Code = ErrorCodes.InvalidArguments,
            Message = $"header {WireHeaders.Timeout} is '{header[0]}'; give seconds, e.g. '30' or '2.5'",
            Parameter = WireHeaders.Timeout,
        });
    }

    private Task<int> WriteNotReadyAsync(HttpContext context, string? method)
    {
        var stopping = readiness.Current == Readiness.State.Stopping;
        var failed = readiness.Current is Readiness.State.Failed or Readiness.State.Unservable;
        var recovering = readiness.Current == Readiness.State.Recovering;
        if (!failed)
        {
            context.Response.Headers.RetryAfter = "1";
        }
        return ErrorResponses.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail
        {
            Code = stopping ? ErrorCodes.ShuttingDown : ErrorCodes.NotReady,
            Message = stopping ? "the host is shutting down"
                : failed ? $"the actor cannot be served: {readiness.Reason}"
                : recovering ? $"the actor is restarting: {readiness.Reason}"
                : "the actor is still starting; retry shortly",
            Method = method,
        });
    }
}
