namespace Affinetes.Protocol;

/// <summary>Kinds of environment, stored in the image label <see cref="ImageLabels.EnvType"/>.</summary>
public static class EnvironmentKinds
{
    /// <summary>A Python <c>env.py</c> with an <c>Actor</c> class (the original calls it <c>function_based</c>).</summary>
    public const string Python = "function_based";

    /// <summary>An environment that brings its own HTTP server (the original's FastAPI <c>app</c> in env.py, or a sidecar).</summary>
    public const string HttpBased = "http_based";
}

/// <summary>Values of <see cref="ImageLabels.Runtime"/> and of the host's <c>AFFINETES_RUNTIME</c>: which runtime serves the image.</summary>
public static class RuntimeNames
{
    public const string Python = "python";
    public const string CSharp = "csharp";
    public const string Sidecar = "sidecar";
}

/// <summary>Labels the injector writes on images.</summary>
public static class ImageLabels
{
    public const string EnvType = "affinetes.env.type";
    public const string HostVersion = "affinetes.host.version";
    public const string SourceDigest = "affinetes.source.digest";
    /// <summary>The host runtime that serves the image: one of <see cref="RuntimeNames"/>.</summary>
    public const string Runtime = "affinetes.runtime";
}

/// <summary>Environment variables that configure the host inside a container.</summary>
public static class HostEnvironment
{
    public const string EnvFile = "AFFINETES_ENV_FILE";
    public const string Port = "AFFINETES_PORT";
    public const string Bind = "AFFINETES_BIND";
    public const string AuthToken = "AFFINETES_AUTH_TOKEN";
    public const string Runtime = "AFFINETES_RUNTIME";
    /// <summary>Where compiled C# actors are kept (the image's build fills it).</summary>
    public const string CacheDirectory = "AFFINETES_CACHE_DIR";
    /// <summary>A sidecar's command: a JSON array, or a line for <c>/bin/sh -c</c>.</summary>
    public const string SidecarCommand = "AFFINETES_SIDECAR_COMMAND";
    public const string SidecarPort = "AFFINETES_SIDECAR_PORT";
    public const string SidecarMethods = "AFFINETES_SIDECAR_METHODS";
    public const int DefaultPort = 8000;
}
