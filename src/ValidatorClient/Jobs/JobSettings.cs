using System.Globalization;
using System.Text.Json;
using Affinetes.Protocol;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Jobs;

/// <summary>
/// What an evaluation keeps with its run (<see cref="Evaluation.EvaluationRequest.Settings"/>) to be resumed as it was
/// started: the environment's shape, the model side (never a key: only the variable's name), the method's descriptor
/// (which makes a later run's kwargs without starting the environment). Plain strings, read back by name.
/// </summary>
internal static class JobSettings
{
    public const string Mode = "environment.mode";
    public const string Replicas = "environment.replicas";
    public const string Hosts = "environment.hosts";
    public const string Network = "environment.network";
    public const string HostNetwork = "environment.host_network";
    public const string MaxResultBytes = "environment.max_result_bytes";
    public const string ModelLocal = "model.local";
    public const string ModelLocalPort = "model.local_port";
    public const string ModelBaseUrl = "model.base_url";
    public const string ModelName = "model.name";
    public const string ModelKeyVariable = "model.api_key_env";
    public const string LlmUpstream = "llm.upstream";
    public const string LlmKeyVariable = "llm.api_key_env";
    public const string LlmPublicUrl = "llm.public_url";
    public const string LlmListen = "llm.listen";
    public const string BasilicaPassLlmKey = "basilica.pass_llm_key";
    public const string MethodDescriptor = "method.descriptor";

    public static Dictionary<string, string> Of(EvaluationJob job, EnvironmentOptions options, ModelEndpoint model, Protocol.MethodDescriptor? method)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [Mode] = options.Mode.ToString().ToLowerInvariant(),
            [Replicas] = options.Replicas.ToString(CultureInfo.InvariantCulture),
            [Hosts] = string.Join('\n', options.Docker.Hosts),
            [Network] = options.Docker.Network.ToString(),
            [HostNetwork] = options.Docker.HostNetwork ? "true" : "false",
            [MaxResultBytes] = options.MaxResultBytes.ToString(CultureInfo.InvariantCulture),
            [ModelLocal] = model.LocalOnly ? "true" : "false",
        };
        if (model.LocalOnly)
        {
            settings[ModelLocalPort] = new Uri(model.BaseUrl).Port.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            settings[ModelBaseUrl] = model.BaseUrl;
            Put(settings, ModelName, model.Model);
            Put(settings, ModelKeyVariable, model.ApiKeyVariable);
        }
        Put(settings, LlmUpstream, job.LlmUpstream);
        Put(settings, LlmKeyVariable, job.LlmKeyVariable);
        Put(settings, LlmPublicUrl, job.LlmPublicUrl);
        Put(settings, LlmListen, job.LlmListen);
        if (options.Mode == EnvironmentMode.Basilica)
        {
            settings[BasilicaPassLlmKey] = options.Basilica.PassLlmKey ? "true" : "false";
        }
        if (method is not null)
        {
            settings[MethodDescriptor] = JsonSerializer.Serialize(method, ProtocolJson.Wire.MethodDescriptor);
        }
        return settings;
    }

    public static Protocol.MethodDescriptor? Method(string? json)
    {
        if (json is null)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(json, ProtocolJson.Wire.MethodDescriptor);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static int? Int(IReadOnlyDictionary<string, string> settings, string key) =>
        settings.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    public static long? Long(IReadOnlyDictionary<string, string> settings, string key) =>
        settings.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    public static bool Flag(IReadOnlyDictionary<string, string> settings, string key) => settings.TryGetValue(key, out var text) && text == "true";

    public static string? Text(IReadOnlyDictionary<string, string> settings, string key) => settings.TryGetValue(key, out var text) ? text : null;

    private static void Put(Dictionary<string, string> settings, string key, string? value)
    {
        if (value is not null)
        {
            settings[key] = value;
        }
    }
}
