namespace Affinetes.Protocol;

/// <summary>Kinds of environment, stored in the image label <see cref="ImageLabels.EnvType"/>.</summary>
public static class EnvironmentKinds
{
    /// <summary>A Python <c>env.py</c> with an <c>Actor</c> class (the original calls it <c>function_based</c>).</summary>
    public const string Python = "function_based";
}

/// <summary>Labels the injector writes on images.</summary>
public static class ImageLabels
{
    public const string EnvType = "affinetes.env.type";
    public const string HostVersion = "affinetes.host.version";
    public const string SourceDigest = "affinetes.source.digest";
}

/// <summary>Environment variables that configure the host inside a container.</summary>
public static class HostEnvironment
{
    public const string EnvFile = "AFFINETES_ENV_FILE";
    public const string Port = "AFFINETES_PORT";
    public const string Bind = "AFFINETES_BIND";
    /// <summary>The bearer token in plain text. Readable by the actor's code until the host removes it from its
    /// environment, and always in <c>/proc/1/environ</c>: set <see cref="AuthTokenSha256"/> instead.</summary>
    public const string AuthToken = "AFFINETES_AUTH_TOKEN";

    /// <summary>
    /// The SHA-256 of the bearer token (<see cref="HashAuthToken"/>: 64 lowercase hex digits). The host verifies
    /// presented tokens against it, so the token itself never enters the container.
    /// </summary>
    public const string AuthTokenSha256 = "AFFINETES_AUTH_TOKEN_SHA256";

    public const int DefaultPort = 8000;

    /// <summary>The value of <see cref="AuthTokenSha256"/> for <paramref name="token"/>: SHA-256 of its UTF-8 bytes, lowercase hex.</summary>
    public static string HashAuthToken(string token) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
}
