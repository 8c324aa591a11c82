using System.Security.Cryptography;

namespace Affinetes.Afs.View;

/// <summary>The viewer's files embedded in afs (<c>View/Assets</c>): its style sheet and its one script, each with a tag of its content.</summary>
internal static class ViewAssets
{
    public sealed record Asset(string Name, string ContentType, byte[] Bytes, string Tag);

    public static Asset Style => StyleAsset.Value;

    public static Asset Script => ScriptAsset.Value;

    private static readonly Lazy<Asset> StyleAsset = new(() => Load("view.css", "text/css; charset=utf-8"));
    private static readonly Lazy<Asset> ScriptAsset = new(() => Load("view.js", "text/javascript; charset=utf-8"));

    private static Asset Load(string name, string contentType)
    {
        using var stream = typeof(ViewAssets).Assembly.GetManifestResourceStream("view/" + name)
            ?? throw new InvalidOperationException($"afs was built without its view/{name} resource");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        return new Asset(name, contentType, bytes, Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]);
    }
}
