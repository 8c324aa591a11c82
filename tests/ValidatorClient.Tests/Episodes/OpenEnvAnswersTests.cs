using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Episodes;

namespace Affinetes.ValidatorClient.Tests.Episodes;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class OpenEnvAnswersTests
{
    private static StepResult Read(string json, string method = "step") => OpenEnvAnswers.Read(method, JsonDocument.Parse(json).RootElement.Clone());

    [Theory]
    [InlineData("""{"observation":"o","episode_id":"top","info":{"episode_id":"info"}}""", "top")]
    [InlineData("""{"observation":"o","episode_id":null,"info":{"episode_id":"info","ident":{"episode_id":"ident"}}}""", "info")]
    [InlineData("""{"observation":"o","episode_id":"","info":{"ident":{"episode_id":"ident"}}}""", "ident")]
    [InlineData("""{"observation":"o","episode_id":42}""", "42")]
    [InlineData("""{"observation":"o","episode_id":0,"info":{"episode_id":""}}""", null)]
    [InlineData("""{"observation":"o","info":"not an object"}""", null)]
    public void EpisodeId_IsReadWhereTheOriginalsClientReadsIt(string json, string? expected) =>
        Assert.Equal(expected, OpenEnvAnswers.EpisodeId(Read(json, "reset")));

    [Fact]
    public void AnAnswerWithOnlyAnObservation_HasTheOriginalsDefaults()
    {
        var result = Read("""{"observation":"hello"}""");
        Assert.Equal((0.0, false, false, null, "hello"), (result.Reward, result.Done, result.Truncated, result.EpisodeId, result.ObservationText));
        Assert.Equal("{}", result.Info.GetRawText());
        Assert.Null(result.ErrorType);
    }

    [Fact]
    public void ObservationText_KeepsStructuredObservationsAsJson_AndErrorTypeIsRead()
    {
        var result = Read("""{"observation":{"board":[1,2]},"reward":1,"done":true,"info":{"error":{"type":"out_of_range"}}}""");
        Assert.Equal("""{"board":[1,2]}""", result.ObservationText);
        Assert.Equal((1.0, true, "out_of_range"), (result.Reward, result.Done, result.ErrorType));
        Assert.Equal("", Read("""{"observation":null}""").ObservationText);
    }

    [Theory]
    [InlineData("[1,2]", "step answered [1,2], not an OpenEnv response object (observation, reward, done, truncated, episode_id, info)")]
    [InlineData("""{"observation":"o","reward":"1"}""", "step answered a reward of \"1\"; a reward is a finite number")]
    [InlineData("""{"observation":"o","done":"yes"}""", "step answered done: \"yes\"; done is true or false")]
    public void AnswersOutsideTheProtocol_FailSayingWhat(string json, string message) =>
        Assert.Equal(message, Assert.Throws<OpenEnvAnswerException>(() => Read(json)).Message);
}
