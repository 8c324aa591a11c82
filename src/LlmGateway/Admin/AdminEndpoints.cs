using System.Text.Json;
using Affinetes.LlmGateway.Tenants;
using Affinetes.LlmGateway.Proxy;
using Affinetes.LlmGateway.Usage;
using Affinetes.Protocol;

namespace Affinetes.LlmGateway.Admin;

/// <summary>
/// The admin API, served only on the admin listener: register and remove environments (issuing their tokens) and
/// read usage. Whoever starts the gateway talks to it; environments never reach it.
/// </summary>
internal sealed partial class AdminEndpoints(ITenantRegistry registry, ILogger<AdminEndpoints> logger)
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost(GatewayRoutes.Tenants, RegisterAsync);
        routes.MapGet(GatewayRoutes.Tenants, (HttpContext context) => WriteAsync(context, registry.All.Select(e => e.Policy).ToList(), GatewayJson.Default.IReadOnlyListGatewayTenant));
        routes.MapGet(GatewayRoutes.Tenants + "/{name}", (HttpContext context, string name) => registry.FindByName(name) is { } found
            ? WriteAsync(context, found.Policy, GatewayJson.Default.GatewayTenant)
            : NotFound(context, name));
        routes.MapDelete(GatewayRoutes.Tenants + "/{name}", (HttpContext context, string name) =>
        {
            if (!registry.Remove(name))
            {
                return NotFound(context, name);
            }
            LogRemoved(name);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        });
        routes.MapGet(GatewayRoutes.Usage, (HttpContext context) => WriteAsync(context,
            new GatewayUsage { Tenants = [.. registry.All.Select(e => e.Usage.Snapshot(e.Name, e.Policy.BudgetTokens))] }, GatewayJson.Default.GatewayUsage));
        routes.MapGet(GatewayRoutes.Usage + "/{name}", (HttpContext context, string name) => registry.FindByName(name) is { } found
            ? WriteAsync(context, found.Usage.Snapshot(found.Name, found.Policy.BudgetTokens), GatewayJson.Default.TenantUsage)
            : NotFound(context, name));
        routes.MapPost(GatewayRoutes.Usage + "/{name}" + GatewayRoutes.CollectSuffix, CollectAsync);
    }

    private async Task CollectAsync(HttpContext context, string name)
    {
        if (registry.FindByName(name) is not { } found)
        {
            await NotFound(context, name);
            return;
        }
        TaskCollection? asked;
        try
        {
            asked = await JsonSerializer.DeserializeAsync(context.Request.Body, GatewayJson.Default.TaskCollection, context.RequestAborted);
        }
        catch (JsonException e)
        {
            await Invalid($"the body is not a task collection: {e.Message}; send {{\"tasks\": [\"1\", \"2\"]}}").WriteAsync(context.Response, context.RequestAborted);
            return;
        }
        if (asked?.Tasks is null)
        {
            await Invalid("the body names no tasks; send {\"tasks\": [\"1\", \"2\"]}").WriteAsync(context.Response, context.RequestAborted);
            return;
        }
        await WriteAsync(context, new CollectedTasks { Tasks = Collect(found, asked.Tasks) }, GatewayJson.Default.CollectedTasks);
    }

    /// <summary>Each named task's usage and exchanges, which the environment then forgets.</summary>
    private static Dictionary<string, TaskRecord> Collect(Tenant environment, IReadOnlyList<string> tasks)
    {
        var usage = environment.Usage.Collect(tasks);
        if (environment.Transcripts?.Collect(tasks) is not { Count: > 0 } transcripts)
        {
            return usage.ToDictionary(u => u.Key, u => new TaskRecord { Usage = u.Value }, StringComparer.Ordinal);
        }
        var records = new Dictionary<string, TaskRecord>(StringComparer.Ordinal);
        foreach (var task in usage.Keys.Union(transcripts.Keys))
        {
            var (exchanges, dropped) = transcripts.TryGetValue(task, out var transcript) ? transcript : (Array.Empty<ExchangeRecord>(), 0);
            // A task whose only requests were refused has exchanges and no usage.
            records[task] = new TaskRecord { Usage = usage.GetValueOrDefault(task) ?? UsageMeter.Nothing, Exchanges = exchanges, ExchangesDropped = dropped };
        }
        return records;
    }

    private async Task RegisterAsync(HttpContext context)
    {
        GatewayTenant? policy;
        try
        {
            policy = await JsonSerializer.DeserializeAsync(context.Request.Body, GatewayJson.Default.GatewayTenant, context.RequestAborted);
        }
        catch (JsonException e)
        {
            await Invalid($"the body is not a gateway environment: {e.Message}").WriteAsync(context.Response, context.RequestAborted);
            return;
        }
        if (policy is null)
        {
            await Invalid("the body is empty; send {\"name\": ..., limits ...}").WriteAsync(context.Response, context.RequestAborted);
            return;
        }
        try
        {
            var created = registry.Register(policy);
            LogRegistered(policy.Name);
            context.Response.StatusCode = StatusCodes.Status201Created;
            await JsonSerializer.SerializeAsync(context.Response.Body, created, GatewayJson.Default.GatewayTenantCreated, context.RequestAborted);
        }
        catch (RegistrationException e)
        {
            await (e.Conflict ? new OpenAiError(StatusCodes.Status409Conflict, "conflict", "invalid_request_error", e.Message) : Invalid(e.Message))
                .WriteAsync(context.Response, context.RequestAborted);
        }
    }

    private static Task WriteAsync<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted);
    }

    private static Task NotFound(HttpContext context, string name) =>
        new OpenAiError(StatusCodes.Status404NotFound, "not_found", "invalid_request_error", $"no environment named '{name}' is registered").WriteAsync(context.Response, context.RequestAborted);

    private static OpenAiError Invalid(string message) => new(StatusCodes.Status400BadRequest, GatewayErrorCodes.InvalidRequest, "invalid_request_error", message);

    [LoggerMessage(Level = LogLevel.Information, Message = "environment {Name} registered")]
    private partial void LogRegistered(string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "environment {Name} removed")]
    private partial void LogRemoved(string name);
}
