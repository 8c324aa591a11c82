using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Evaluation;

namespace Affinetes.ValidatorClient.Tests;

/// <summary>The deadline a task or call gets when none is named: never none unless asked for.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class CallDeadlinesTests
{
    private static MethodDescriptor Method(string? timeoutDefault) => new()
    {
        Name = "evaluate",
        Signature = "(task_id, timeout)",
        Endpoint = "POST /evaluate",
        Parameters = timeoutDefault is null
            ? [new ParameterDescriptor { Name = "task_id", Required = true }]
            : [new ParameterDescriptor { Name = "task_id", Required = true }, new ParameterDescriptor { Name = "timeout", Default = JsonDocument.Parse(timeoutDefault).RootElement.Clone() }],
    };

    [Theory]
    [InlineData(null, null, 600)]
    [InlineData("600", null, 610)]
    [InlineData("600", 30, 40)]
    [InlineData("600", "45.5", 55.5)]
    [InlineData("null", null, 600)]
    [InlineData("\"soon\"", null, 600)]
    [InlineData("0", null, 600)]
    [InlineData(null, -5, 600)]
    public void TheCallsTimeout_ElseTheDeclaredOne_PlusGrace_ElseTheFallback(string? declared, object? passed, double expectedSeconds)
    {
        var kwargs = passed is null ? new Dictionary<string, object?>() : new Dictionary<string, object?> { ["timeout"] = passed };
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), CallDeadlines.For(Method(declared), kwargs, CallDeadlines.EvaluationDefault));
    }

    [Fact]
    public void JsonValues_CountAsTheyRead()
    {
        var kwargs = new Dictionary<string, object?> { ["timeout"] = JsonDocument.Parse("20").RootElement.Clone() };
        Assert.Equal(TimeSpan.FromSeconds(30), CallDeadlines.For(null, kwargs, CallDeadlines.CallDefault));
        Assert.Equal(CallDeadlines.CallDefault, CallDeadlines.For(null, null, CallDeadlines.CallDefault));
        Assert.Equal("none", CallDeadlines.Describe(Timeout.InfiniteTimeSpan));
        Assert.Equal("610 s", CallDeadlines.Describe(TimeSpan.FromSeconds(610)));
    }
}
