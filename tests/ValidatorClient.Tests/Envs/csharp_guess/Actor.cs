// A C# interactive (OpenEnv) actor: the number-guessing game of environments/python-guess, answering with
// Affinetes.Actors.OpenEnvResponse, so that validators play it as they play the Python one.
using System.Collections.Concurrent;
using System.ComponentModel;

public class Actor
{
    private sealed class Game(long taskId, long seed, int secret)
    {
        public long TaskId { get; } = taskId;
        public long Seed { get; } = seed;
        public int Secret { get; } = secret;
        public int Guesses { get; set; }
    }

    private const int MaxGuesses = 7;
    private readonly ConcurrentDictionary<string, Game> _games = new();
    private readonly string _replica = $"{Environment.MachineName}:{Environment.ProcessId}";

    private Dictionary<string, object?> Info(Game? game, string? error = null)
    {
        var info = new Dictionary<string, object?> { ["replica"] = _replica };
        if (game is not null)
        {
            info["task_id"] = game.TaskId;
            info["seed"] = game.Seed;
            info["guesses_left"] = MaxGuesses - game.Guesses;
        }
        if (error is not null)
        {
            info["error"] = new Dictionary<string, object?> { ["type"] = error };
        }
        return info;
    }

    [Description("Opens an episode: a secret integer between 1 and 100 chosen from (task_id, seed).")]
    public OpenEnvResponse Reset(long? taskId = null, long? seed = null)
    {
        var task = taskId ?? Random.Shared.Next();
        var s = seed ?? task;
        var game = new Game(task, s, new Random(HashCode.Combine(task, s) & 0x7fffffff).Next(1, 101));
        var id = Guid.NewGuid().ToString("N");
        _games[id] = game;
        return new OpenEnvResponse { Observation = "Guess an integer between 1 and 100.", EpisodeId = id, Info = Info(game) };
    }

    [Description("One guess: the last integer of the action.")]
    public OpenEnvResponse Step(string action, string? episodeId = null)
    {
        if (episodeId is null || !_games.TryGetValue(episodeId, out var game))
        {
            return new OpenEnvResponse { Observation = $"Episode {episodeId} not found.", Done = true, Truncated = true, Info = Info(null, "episode_not_found") };
        }
        var digits = new string(action.Reverse().SkipWhile(c => !char.IsAsciiDigit(c)).TakeWhile(char.IsAsciiDigit).Reverse().ToArray());
        if (!int.TryParse(digits, out var guess))
        {
            return new OpenEnvResponse { Observation = "Reply with one integer.", EpisodeId = episodeId, Info = Info(game, "action_parse") };
        }
        game.Guesses++;
        if (guess == game.Secret)
        {
            return new OpenEnvResponse { Observation = $"Correct! The secret was {guess}.", Reward = 1.0, Done = true, EpisodeId = episodeId, Info = Info(game) };
        }
        var over = game.Guesses >= MaxGuesses;
        return new OpenEnvResponse
        {
            Observation = over ? $"{guess} is wrong and that was the last guess." : $"{guess} is wrong: the secret is {(guess < game.Secret ? "higher" : "lower")}.",
            Done = over,
            EpisodeId = episodeId,
            Info = Info(game),
        };
    }

    [Description("Forgets the episode.")]
    public Dictionary<string, object?> Stop(string? episodeId = null) =>
        new() { ["status"] = "ok", ["stopped"] = episodeId is not null && _games.TryRemove(episodeId, out _), ["episode_id"] = episodeId };

    [Description("Episodes open now.")]
    public int Open() => _games.Count;
}
