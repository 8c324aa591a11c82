using System.Text.Json;

namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// A JSON file of uid to image reference, <c>{"1": "registry/miner-a:v3", ...}</c>, as an operator writes it or a
/// chain read was saved. A file that cannot be read, is not such an object or names no miner raises; an image that is
/// not a valid reference is that miner's problem, as it would be on the chain.
/// </summary>
internal sealed class JsonFileMinersSource(string path) : IMinersSource
{
    public string Describe => $"the miners file {path}";

    public async Task<MinerSet> ReadAsync(CancellationToken cancellationToken = default)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MinersSourceException($"cannot read the miners file {path}: {e.Message}", inner: e);
        }
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new MinersSourceException($"the miners file {path} is not JSON ({e.Message}); write an object of uid to image, e.g. {{\"1\": \"registry/miner-a:v3\"}}", inner: e);
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new MinersSourceException($"the miners file {path} must be a JSON object of uid to image, e.g. {{\"1\": \"registry/miner-a:v3\"}}");
        }
        var miners = new List<MinerEntry>();
        foreach (var property in root.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(property.Value.GetString()))
            {
                throw new MinersSourceException($"the miners file {path}: miner '{property.Name}' must map to an image reference (a string), e.g. \"registry/miner-a:v3\"");
            }
            var image = property.Value.GetString()!;
            miners.Add(ImageReference.Check(image) is { } why
                ? new MinerEntry(property.Name, null, null, why, null)
                : new MinerEntry(property.Name, null, image, null, null));
        }
        if (miners.Count == 0)
        {
            throw new MinersSourceException($"the miners file {path} names no miner");
        }
        return new MinerSet(null, miners);
    }
}
