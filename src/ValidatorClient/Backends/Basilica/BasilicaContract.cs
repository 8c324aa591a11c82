using System.Text.Json;
using System.Text.Json.Serialization;

namespace Affinetes.ValidatorClient.Backends.Basilica;

// The Basilica deployments API as this client uses it (reference: shared/reference/basilica-api.md). camelCase JSON.

internal sealed record CreateDeploymentRequest
{
    public required string InstanceName { get; init; }
    public required string Image { get; init; }
    public int Replicas { get; init; } = 1;
    public int Port { get; init; }
    public Dictionary<string, string>? Env { get; init; }
    public DeploymentResources? Resources { get; init; }
    public long TtlSeconds { get; init; }
    public bool Public { get; init; } = true;
    public DeploymentHealthCheck? HealthCheck { get; init; }
}

internal sealed record DeploymentResources(string? Cpu, string? Memory);

internal sealed record DeploymentHealthCheck(DeploymentProbe? Liveness, DeploymentProbe? Readiness);

internal sealed record DeploymentProbe(string Path, int InitialDelaySeconds, int PeriodSeconds, int TimeoutSeconds, int FailureThreshold);

internal sealed record DeploymentReplicas(int Desired, int Ready);

internal sealed record Deployment
{
    public required string InstanceName { get; init; }
    public string? State { get; init; }
    public string? Url { get; init; }
    public DeploymentReplicas? Replicas { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public string? Phase { get; init; }
    public string? Message { get; init; }
    public JsonElement? Progress { get; init; }

    public bool IsReady => string.Equals(State, "Active", StringComparison.OrdinalIgnoreCase)
        && Replicas is { Desired: > 0 } r && r.Ready >= r.Desired;

    /// <summary>Basilica created its objects (not yet ready, maybe).</summary>
    public bool IsActive => string.Equals(State, "Active", StringComparison.OrdinalIgnoreCase);

    public bool IsFailed => string.Equals(State, "Failed", StringComparison.OrdinalIgnoreCase)
        || string.Equals(Phase, "failed", StringComparison.OrdinalIgnoreCase);

    public bool IsGone => State is { } s && (s.Equals("Terminating", StringComparison.OrdinalIgnoreCase) || s.Equals("Deleted", StringComparison.OrdinalIgnoreCase));

    /// <summary>Progress as a number, whether Basilica sends a figure or an object with a <c>percentage</c>.</summary>
    public double? ProgressFigure => Progress switch
    {
        { ValueKind: JsonValueKind.Number } p => p.GetDouble(),
        { ValueKind: JsonValueKind.Object } p when p.TryGetProperty("percentage", out var pc) && pc.ValueKind == JsonValueKind.Number => pc.GetDouble(),
        _ => null,
    };

    public Environments.BasilicaStatus ToStatus() =>
        new(InstanceName, State ?? "?", Phase, Message, ProgressFigure, Replicas?.Ready ?? 0, Replicas?.Desired ?? 0);
}

internal sealed record DeploymentList(List<Deployment> Deployments, int Total);

internal sealed record DeploymentEvent(string? Type, string? Reason, string? Message, int? Count, [property: JsonPropertyName("last_timestamp")] string? LastTimestamp);

internal sealed record DeploymentEvents(List<DeploymentEvent> Events);

internal sealed record DeploymentLogLine(string? Timestamp, string? Stream, string? Message);

internal sealed record BasilicaError(BasilicaErrorBody? Error);

internal sealed record BasilicaErrorBody(string? Code, string? Message, string? Timestamp, bool? Retryable);

internal static class BasilicaJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
