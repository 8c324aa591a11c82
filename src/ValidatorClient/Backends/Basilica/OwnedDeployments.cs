using System.Text.Json;

namespace Affinetes.ValidatorClient.Backends.Basilica;

/// <summary>A deployment this user's clients created and have not deleted yet, as noted on disk.</summary>
/// <param name="InstanceName">The name Basilica answered (or the one sent, until it answered).</param>
/// <param name="RequestedName">The name sent (prefixed with <see cref="OwnedDeployments.Prefix"/>).</param>
/// <param name="Image">The image it runs.</param>
/// <param name="ApiUrl">The API it was created on.</param>
/// <param name="CreatedAt">When it was asked for.</param>
/// <param name="TtlSeconds">The TTL it was given.</param>
/// <param name="Name">The name the user gave the environment (<see cref="Environments.EnvironmentOptions.ContainerName"/>), when one was given.</param>
/// <param name="Owner">
/// The process that deletes it when it is done, when it is to be deleted at all (an environment without cleanup, as
/// <c>afs run</c> leaves running, has none): once that process is gone, the next Basilica job removes it.
/// </param>
internal sealed record OwnedDeployment(string InstanceName, string RequestedName, string Image, string ApiUrl, DateTimeOffset CreatedAt, long TtlSeconds,
    string? Name = null, ProcessOwner? Owner = null)
{
    public DateTimeOffset ExpiresAt => CreatedAt.AddSeconds(TtlSeconds);
}

/// <summary>
/// How deployments are known as ours: their names start with <see cref="Prefix"/>, and each one is noted in a file
/// from before it is asked for until it is deleted. A client killed at any point thus leaves either a prefixed name
/// in Basilica's list or a note (which also covers a server that renamed it), and <c>afs basilica rm --all-mine</c>
/// finds it. Basilica's API has no labels, so these two marks stand for them. A note also names the process that
/// will delete the deployment (<see cref="ProcessOwner"/>), so that what a killed validator left is found and removed
/// by the next one (<see cref="BasilicaDeployments.RemoveAbandonedAsync"/>) rather than living until its TTL.
/// </summary>
internal sealed class OwnedDeployments(string directory)
{
    /// <summary>The prefix of every deployment name this client sends.</summary>
    public const string Prefix = "afs-";

    /// <summary>
    /// A fresh name for one load: the prefix, the image's name as a DNS label, and 10 random hex digits, so that two
    /// loads in the same second never collide; at most 63 characters, lowercase.
    /// </summary>
    public static string NewName(string image) => NewNamePrefix(image) + Guid.NewGuid().ToString("N")[..10];

    /// <summary>What <see cref="NewName"/> puts before its random part for <paramref name="image"/> (an image or a name the user gave).</summary>
    public static string NewNamePrefix(string image)
    {
        var last = image.Split('@')[0].Split('/')[^1].Split(':')[0].ToLowerInvariant();
        var slug = new string([.. last.Select(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' ? c : '-')]).Trim('-');
        while (slug.Contains("--", StringComparison.Ordinal))
        {
            slug = slug.Replace("--", "-", StringComparison.Ordinal);
        }
        slug = slug.Length > 40 ? slug[..40].TrimEnd('-') : slug;
        return slug.Length == 0 ? Prefix : $"{Prefix}{slug}-";
    }

    public static bool HasPrefix(string instanceName) => instanceName.StartsWith(Prefix, StringComparison.Ordinal);

    public void Note(OwnedDeployment deployment, string? replaces = null)
    {
        Directory.CreateDirectory(directory);
        var path = PathOf(deployment.InstanceName);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(deployment, BasilicaJson.Options));
        File.Move(temporary, path, overwrite: true);
        if (replaces is not null && replaces != deployment.InstanceName)
        {
            Forget(replaces);
        }
    }

    public void Forget(string instanceName)
    {
        try
        {
            File.Delete(PathOf(instanceName));
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Every noted deployment (of any API: callers filter by <see cref="OwnedDeployment.ApiUrl"/>).</summary>
    public IReadOnlyList<OwnedDeployment> List()
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }
        var list = new List<OwnedDeployment>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<OwnedDeployment>(File.ReadAllText(file), BasilicaJson.Options) is { } owned)
                {
                    list.Add(owned);
                }
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // Being written or removed at this moment, or damaged: the name prefix still marks it.
            }
        }
        return list;
    }

    private string PathOf(string instanceName) =>
        Path.Combine(directory, new string([.. instanceName.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]) + ".json");
}
