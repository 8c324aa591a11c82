using System.Globalization;

namespace Affinetes.LlmGateway.Tenants;

/// <summary>One entry of an environment's egress allow-list: <c>host</c> (port 443), <c>host:port</c>, or <c>*.domain[:port]</c>.</summary>
internal sealed record EgressRule(string Host, int Port)
{
    private const int DefaultPort = 443;

    /// <summary>Parses an allow-list entry; false when it is not one.</summary>
    public static bool TryParse(string text, out EgressRule rule)
    {
        rule = null!;
        var host = text.Trim();
        var port = DefaultPort;
        var colon = host.LastIndexOf(':');
        if (colon > 0 && !host.EndsWith(']'))
        {
            if (!int.TryParse(host[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                return false;
            }
            host = host[..colon];
        }
        host = host.Trim('[', ']').ToLowerInvariant();
        var name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':')))
        {
            return false;
        }
        rule = new EgressRule(host, port);
        return true;
    }

    /// <summary>Whether a CONNECT to <paramref name="host"/>:<paramref name="port"/> falls under this entry (names compared case-insensitively).</summary>
    public bool Matches(string host, int port)
    {
        if (port != Port)
        {
            return false;
        }
        var name = host.Trim('[', ']');
        return Host.StartsWith("*.", StringComparison.Ordinal)
            ? name.EndsWith(Host[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(name, Host, StringComparison.OrdinalIgnoreCase);
    }
}
