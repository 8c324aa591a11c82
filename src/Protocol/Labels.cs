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
    public const string AuthToken = "AFFINETES_AUTH_TOKEN";
    public const int DefaultPort = 8000;
}
