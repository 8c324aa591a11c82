using System.Reflection;

namespace Affinetes.ActorHost.Hosting;

/// <summary>The host's own version, sent in every answer and written into image labels.</summary>
internal static class HostInfo
{
    public static string Version { get; } =
        typeof(HostInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
