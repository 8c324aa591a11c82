using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>
/// How C# actors' arguments and results cross JSON. Results are written as Python environments write theirs:
/// snake_case property names (<c>TaskId</c> -> <c>task_id</c>; <c>[JsonPropertyName]</c> wins), enums by name,
/// whole doubles with a fraction (<c>1.0</c>, as Python's float). Objects are read case-insensitively under either
/// name (<c>task_id</c>, <c>TaskId</c>, <c>taskId</c>); numbers may come as strings; enums by name only.
/// </summary>
internal static class ActorJson
{
    /// <summary>How results (and defaults shown in /methods) are written: snake_case names, enums by name, 1.0 for a whole double.</summary>
    public static JsonSerializerOptions Write { get; } = Create(JsonNamingPolicy.SnakeCaseLower, null);

    /// <summary>How arguments are read: C# names case-insensitively, each property's snake_case name too.</summary>
    public static JsonSerializerOptions Read { get; } = Create(null, AcceptSnakeCaseNames);

    private static JsonSerializerOptions Create(JsonNamingPolicy? naming, Action<JsonTypeInfo>? modifier)
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        if (modifier is not null)
        {
            resolver.Modifiers.Add(modifier);
        }
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = naming,
            PropertyNameCaseInsensitive = true,
            NumberHandling = JsonNumberHandling.AllowReadingFromString,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            IncludeFields = true,
            TypeInfoResolver = resolver,
            MaxDepth = Protocol.ResultLimits.MaxDepth,
        };
        options.Converters.Add(new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false));
        options.Converters.Add(new PythonStyleDoubleConverter());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>
    /// Adds, for reading only, each property's snake_case name beside its C# name, so that a JSON object written by a
    /// Python caller (<c>task_id</c>) binds as well as one written by a C# caller (<c>TaskId</c>, <c>taskId</c>).
    /// (Records bind the C# name through their constructor and the snake_case one through the init setter.)
    /// </summary>
    private static void AcceptSnakeCaseNames(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }
        var taken = new HashSet<string>(type.Properties.Select(p => p.Name), StringComparer.OrdinalIgnoreCase);
        foreach (var property in type.Properties.ToList())
        {
            var alias = JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            if (property.Set is null || !taken.Add(alias))
            {
                continue;
            }
            var aliasProperty = type.CreateJsonPropertyInfo(property.PropertyType, alias);
            aliasProperty.Set = property.Set;
            aliasProperty.Get = null;
            aliasProperty.CustomConverter = property.CustomConverter;
            type.Properties.Add(aliasProperty);
        }
    }

    /// <summary>Writes a whole double as <c>1.0</c> rather than <c>1</c>, so a float stays a float for Python readers.</summary>
    private sealed class PythonStyleDoubleConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String
                ? double.Parse(reader.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
                : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value) && Math.Abs(value) < 1e16 && value == Math.Floor(value))
            {
                writer.WriteRawValue(value.ToString("0.0", CultureInfo.InvariantCulture), skipInputValidation: true);
            }
            else
            {
                writer.WriteNumberValue(value); // throws for NaN and infinities: the result is not JSON
            }
        }
    }
}
