using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>
/// How C# actors' arguments and results cross JSON. Results are written as Python environments write theirs:
/// snake_case property names (<c>TaskId</c> -> <c>task_id</c>; <c>[JsonPropertyName]</c> wins), enums by name,
/// whole doubles with a fraction (<c>1.0</c>, as Python's float). Objects are read case-insensitively under either
/// name (<c>task_id</c>, <c>TaskId</c>, <c>taskId</c>); numbers may come as strings.
/// </summary>
internal static class ActorJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            PropertyNameCaseInsensitive = true,
            NumberHandling = JsonNumberHandling.AllowReadingFromString,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            IncludeFields = true,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { AcceptClrNames } },
        };
        options.Converters.Add(new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false));
        options.Converters.Add(new PythonStyleDoubleConverter());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>
    /// Adds, for reading only, each property's C# name beside its snake_case name, so that a JSON object written by a
    /// C# caller (<c>TaskId</c>, <c>taskId</c>) binds as well as one written by a Python caller (<c>task_id</c>).
    /// </summary>
    private static void AcceptClrNames(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }
        var taken = new HashSet<string>(type.Properties.Select(p => p.Name), StringComparer.OrdinalIgnoreCase);
        foreach (var property in type.Properties.ToList())
        {
            if (property.AttributeProvider is not System.Reflection.MemberInfo member || property.Set is null || !taken.Add(member.Name))
            {
                continue;
            }
            var alias = type.CreateJsonPropertyInfo(property.PropertyType, member.Name);
            alias.Set = property.Set;
            alias.Get = null;
            alias.CustomConverter = property.CustomConverter;
            type.Properties.Add(alias);
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
