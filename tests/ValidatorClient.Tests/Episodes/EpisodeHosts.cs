using System.Text.Json;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;
using Affinetes.ValidatorClient.Episodes;

namespace Affinetes.ValidatorClient.Tests.Episodes;

/// <summary>Real host processes serving one interactive environment of <c>Envs/</c>, and the episode helpers the tests share.</summary>
public sealed class EpisodeHosts : IAsyncDisposable
{
    private EpisodeHosts(IReadOnlyList<HostProcess> hosts) => Hosts = hosts;

    public IReadOnlyList<HostProcess> Hosts { get; }

    public static async Task<EpisodeHosts> StartAsync(string envFile, int count, params (string Name, string Value)[] environment)
    {
        var env = new Dictionary<string, string> { ["AFFINETES_ENV_FILE"] = Path.Combine(AppContext.BaseDirectory, "Envs", envFile) };
        foreach (var (name, value) in environment)
        {
            env[name] = value;
        }
        var hosts = Enumerable.Range(0, count).Select(_ => HostProcess.Start(env)).ToList();
        await Task.WhenAll(hosts.Select(h => h.WaitReadyAsync(TimeSpan.FromSeconds(60))));
        return new EpisodeHosts(hosts);
    }

    public string Url(int index) => $"http://127.0.0.1:{Hosts[index].Port}";

    /// <summary>All the hosts as the replicas of one url-mode environment.</summary>
    public Task<IEnvironment> LoadAsync(TimeSpan? readyTimeout = null) => AffinetesClient.LoadEnvAsync(new EnvironmentOptions
    {
        Mode = EnvironmentMode.Url,
        BaseUrls = [.. Hosts.Select((_, i) => Url(i))],
        ReadyTimeout = readyTimeout ?? TimeSpan.FromSeconds(30),
    }).Within(what: "loading the environment");

    /// <summary>A method called on one host directly (not through the pool): <c>stats</c>, <c>counts</c>.</summary>
    public async Task<JsonElement> CallHostAsync(int index, string method)
    {
        using var response = await Hosts[index].Client.PostAsync("/" + method, new StringContent("{}", System.Text.Encoding.UTF8, "application/json")).Within(what: method);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        Assert.True(response.IsSuccessStatusCode, $"{method} answered {(int)response.StatusCode}: {body}");
        return body.GetProperty("result");
    }

    /// <summary>
    /// Plays a number-guessing episode (python-guess or the original's number_guess) by binary search between
    /// <paramref name="low"/> and <paramref name="high"/>, checking after each step that <paramref name="check"/> holds;
    /// returns the steps taken and the last answer.
    /// </summary>
    public static async Task<(int Steps, StepResult Last)> BinarySearchAsync(IEpisode episode, int low, int high, Action<StepResult>? check = null)
    {
        var steps = 0;
        while (true)
        {
            var guess = (low + high) / 2;
            var result = await episode.StepAsync(guess.ToString(System.Globalization.CultureInfo.InvariantCulture)).Within(what: $"step {steps + 1} of {episode.EpisodeId}");
            steps++;
            check?.Invoke(result);
            if (result.Done || steps > 20)
            {
                return (steps, result);
            }
            if (result.ObservationText.Contains("higher", StringComparison.Ordinal))
            {
                low = guess + 1;
            }
            else
            {
                high = guess - 1;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Hosts)
        {
            await host.DisposeAsync();
        }
    }
}
