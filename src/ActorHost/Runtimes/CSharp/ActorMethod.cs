using System.Collections;
using System.ComponentModel;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Affinetes.Actors;
using Affinetes.Protocol;

namespace Affinetes.ActorHost.Runtimes.CSharp;

/// <summary>
/// One public method of a C# Actor as an endpoint: its descriptor, how JSON arguments bind to its parameters, and
/// how its result (sync, <c>Task</c>, <c>Task&lt;T&gt;</c>, <c>ValueTask&lt;T&gt;</c>) is awaited.
/// </summary>
internal sealed class ActorMethod
{
    private static readonly NullabilityInfoContext Nullability = new();
    private static readonly MethodInfo AwaitTaskOfT = typeof(ActorMethod).GetMethod(nameof(AwaitTask), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo AwaitValueTaskOfT = typeof(ActorMethod).GetMethod(nameof(AwaitValueTask), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly MethodInfo _method;
    private readonly Parameter[] _parameters;
    private readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);
    private readonly Parameter[] _positional;
    private readonly Parameter? _extra;
    private readonly Func<object, ValueTask<object?>>? _await;
    private readonly bool _returnsNothing;
    private readonly bool _namedArgsOrKwargs;

    private ActorMethod(MethodInfo method)
    {
        _method = method;
        Name = Naming.SnakeCase(method.Name);
        _parameters = [.. method.GetParameters().Select((p, i) => new Parameter(p, i, Name))];
        _extra = _parameters.FirstOrDefault(p => p.IsExtra);
        _positional = [.. _parameters.Where(p => !p.IsToken && !p.IsExtra)];
        foreach (var p in _positional)
        {
            _byName[p.Name] = p;
            _byName.TryAdd(p.Info.Name!, p);
        }
        _namedArgsOrKwargs = _byName.ContainsKey("args") || _byName.ContainsKey("kwargs");

        var returns = method.ReturnType;
        IsAsync = typeof(Task).IsAssignableFrom(returns) || returns == typeof(ValueTask) || (returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(ValueTask<>));
        _returnsNothing = returns == typeof(void) || returns == typeof(Task) || returns == typeof(ValueTask);
        if (returns == typeof(Task) || returns == typeof(ValueTask))
        {
            _await = returns == typeof(Task) ? static t => AwaitPlain((Task)t) : static t => AwaitPlain(((ValueTask)t).AsTask());
        }
        else if (returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(Task<>))
        {
            _await = AwaitTaskOfT.MakeGenericMethod(returns.GetGenericArguments()[0]).CreateDelegate<Func<object, ValueTask<object?>>>();
        }
        else if (returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            _await = AwaitValueTaskOfT.MakeGenericMethod(returns.GetGenericArguments()[0]).CreateDelegate<Func<object, ValueTask<object?>>>();
        }
        else if (typeof(Task).IsAssignableFrom(returns))
        {
            _await = static t => AwaitPlain((Task)t); // a Task subclass without a result type we know
        }

        Descriptor = new MethodDescriptor
        {
            Name = Name,
            Aliases = method.Name == Name ? null : [method.Name],
            Signature = Signature(method, _parameters),
            Endpoint = $"POST {WireRoutes.ForMethod(Name)}",
            IsAsync = IsAsync,
            Description = method.GetCustomAttribute<DescriptionAttribute>()?.Description,
            Parameters = [.. _parameters.Where(p => !p.IsToken).Select(p => p.Describe())],
        };
    }

    /// <summary>The endpoint name: the method's name in snake_case (<c>Evaluate</c> -> <c>evaluate</c>).</summary>
    public string Name { get; }

    public bool IsAsync { get; }

    public MethodDescriptor Descriptor { get; }

    /// <summary>
    /// The endpoints of <paramref name="actorType"/>: its public instance methods and those it inherits (never
    /// <c>object</c>'s, property or event accessors, operators, <c>Dispose</c>/<c>DisposeAsync</c>). Overloads and
    /// names that collide once in snake_case are an error naming them; so are generic and by-ref methods.
    /// </summary>
    public static IReadOnlyList<ActorMethod> Discover(Type actorType)
    {
        var candidates = actorType.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.DeclaringType != typeof(object) && !m.IsSpecialName
                && m.Name is not ("Dispose" or "DisposeAsync" or "Deconstruct" or "<Clone>$" or "PrintMembers")
                && !(m.Name is "Equals" or "GetHashCode" or "ToString" && m.GetBaseDefinition().DeclaringType == typeof(object))
                && m.GetCustomAttribute<System.Runtime.CompilerServices.CompilerGeneratedAttribute>() is null)
            .ToList();
        var problems = new List<string>();
        foreach (var group in candidates.GroupBy(m => Naming.SnakeCase(m.Name)).Where(g => g.Count() > 1))
        {
            problems.Add($"{string.Join(" and ", group.Select(m => Naming.Display(m)))} are all served as '{group.Key}': an endpoint is one method " +
                "(use optional parameters instead of overloads, or make the others private)");
        }
        foreach (var method in candidates)
        {
            if (method.IsGenericMethodDefinition)
            {
                problems.Add($"{Naming.Display(method)} is generic and cannot be called over HTTP; make it non-generic or private");
            }
            foreach (var p in method.GetParameters().Where(p => p.ParameterType.IsByRef || p.ParameterType.IsPointer))
            {
                problems.Add($"{Naming.Display(method)}: parameter '{p.Name}' is ref/out/pointer, which JSON cannot pass; return the value instead");
            }
            foreach (var p in method.GetParameters().Where(p => p.IsDefined(typeof(ExtraArgumentsAttribute)) && !Parameter.IsExtraType(p.ParameterType)))
            {
                problems.Add($"{Naming.Display(method)}: [ExtraArguments] parameter '{p.Name}' must be IReadOnlyDictionary<string, JsonElement> or Dictionary<string, JsonElement>");
            }
        }
        if (problems.Count > 0)
        {
            throw new ActorStartupException($"class {actorType.Name} cannot be served: {string.Join("; ", problems)}");
        }
        return [.. candidates.Select(m => new ActorMethod(m)).OrderBy(m => m.Name, StringComparer.Ordinal)];
    }

    /// <summary>Binds the request body to the parameters, or says which argument is wrong.</summary>
    public (object?[]? Arguments, ErrorDetail? Error) Bind(ReadOnlyMemory<byte> body, BodyShape shape, CancellationToken cancellationToken)
    {
        if (shape == BodyShape.Call && _extra is null && TryBindPlain(body.Span, cancellationToken) is { } plain)
        {
            return plain;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(RequestBody.IsBlank(body.Span) ? "{}"u8.ToArray() : body);
        }
        catch (JsonException e)
        {
            return (null, Invalid(ErrorCodes.InvalidJson, $"the request body is not valid JSON: {e.Message}", null));
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, Invalid(ErrorCodes.InvalidJson, "the request body must be a JSON object", null));
            }
            JsonElement args = default, kwargs = root;
            var split = shape == BodyShape.Call || (!_namedArgsOrKwargs && root.EnumerateObject().Any() && root.EnumerateObject().All(p => p.Name is "args" or "kwargs"));
            if (split)
            {
                args = root.TryGetProperty("args", out var a) ? a : default;
                kwargs = root.TryGetProperty("kwargs", out var k) ? k : default;
                if (args.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Array))
                {
                    return (null, Invalid(ErrorCodes.InvalidArguments, "'args' must be a JSON array", "args"));
                }
                if (kwargs.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
                {
                    return (null, Invalid(ErrorCodes.InvalidArguments, "'kwargs' must be a JSON object", "kwargs"));
                }
            }

            var values = new object?[_parameters.Length];
            var given = new bool[_parameters.Length];
            Dictionary<string, JsonElement>? extra = _extra is null ? null : new(StringComparer.Ordinal);
            if (args.ValueKind == JsonValueKind.Array)
            {
                var index = 0;
                foreach (var value in args.EnumerateArray())
                {
                    if (index >= _positional.Length)
                    {
                        return (null, Invalid(ErrorCodes.InvalidArguments,
                            $"{Name} takes {_positional.Length} positional argument{(_positional.Length == 1 ? "" : "s")} but {args.GetArrayLength()} were given", "args"));
                    }
                    var p = _positional[index++];
                    if (p.Convert(value) is { } error)
                    {
                        return (null, error);
                    }
                    values[p.Position] = p.Converted;
                    given[p.Position] = true;
                }
            }
            if (kwargs.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in kwargs.EnumerateObject())
                {
                    if (!_byName.TryGetValue(property.Name, out var p))
                    {
                        if (extra is null)
                        {
                            return (null, Invalid(ErrorCodes.InvalidArguments, $"{Name} got an unexpected keyword argument '{property.Name}'", property.Name));
                        }
                        extra[property.Name] = property.Value.Clone();
                        continue;
                    }
                    if (given[p.Position])
                    {
                        return (null, Invalid(ErrorCodes.InvalidArguments, $"{Name} got multiple values for argument '{p.Name}'", p.Name));
                    }
                    if (p.Convert(property.Value) is { } error)
                    {
                        return (null, error);
                    }
                    values[p.Position] = p.Converted;
                    given[p.Position] = true;
                }
            }
            return FillMissing(values, given, extra, cancellationToken) is { } missing ? (null, missing) : (values, null);
        }
    }

    /// <summary>The parameters no argument was given for: the call's token, the extra arguments, defaults; or the 400 for a required one.</summary>
    private ErrorDetail? FillMissing(object?[] values, ReadOnlySpan<bool> given, Dictionary<string, JsonElement>? extra, CancellationToken cancellationToken)
    {
        foreach (var p in _parameters)
        {
            if (given[p.Position])
            {
                continue;
            }
            if (p.IsToken)
            {
                values[p.Position] = cancellationToken;
            }
            else if (p.IsExtra)
            {
                values[p.Position] = extra;
            }
            else if (p.HasDefault)
            {
                values[p.Position] = p.DefaultValue;
            }
            else
            {
                return Invalid(ErrorCodes.InvalidArguments, $"{Name} is missing a required argument: '{p.Name}'", p.Name);
            }
        }
        return null;
    }

    /// <summary>
    /// Binds a <c>/call</c> body in one pass of a reader when every argument is of a kind
    /// <see cref="Parameter.TryRead"/> takes as it is (strings, whole numbers, doubles, booleans, null): most calls,
    /// and without building a document. Null for anything else (a record, an error to word, an unknown name): the
    /// document path binds it, so both paths give the same arguments and the same errors.
    /// </summary>
    private (object?[]?, ErrorDetail?)? TryBindPlain(ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        var values = new object?[_parameters.Length];
        Span<bool> given = _parameters.Length <= 16 ? stackalloc bool[16] : new bool[_parameters.Length];
        Span<char> name = stackalloc char[64];
        var byName = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
        var reader = new Utf8JsonReader(body);
        bool seenArgs = false, seenKwargs = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isArgs = reader.ValueTextEquals("args"u8);
                var isKwargs = !isArgs && reader.ValueTextEquals("kwargs"u8);
                reader.Read();
                if ((isArgs && (seenArgs || reader.TokenType is not (JsonTokenType.StartArray or JsonTokenType.Null)))
                    || (isKwargs && (seenKwargs || reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.Null))))
                {
                    return null; // a repeated or misshapen args/kwargs: the document path words it
                }
                seenArgs |= isArgs;
                seenKwargs |= isKwargs;
                if (isArgs && reader.TokenType == JsonTokenType.StartArray)
                {
                    var index = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (index >= _positional.Length || !_positional[index].TryRead(ref reader, out var value))
                        {
                            return null;
                        }
                        values[_positional[index].Position] = value;
                        given[_positional[index++].Position] = true;
                    }
                }
                else if (isKwargs && reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueIsEscaped || reader.ValueSpan.Length > name.Length)
                        {
                            return null;
                        }
                        var length = reader.CopyString(name);
                        if (!byName.TryGetValue(name[..length], out var p) || given[p.Position])
                        {
                            return null;
                        }
                        reader.Read();
                        if (!p.TryRead(ref reader, out var value))
                        {
                            return null;
                        }
                        values[p.Position] = value;
                        given[p.Position] = true;
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
            if (reader.Read())
            {
                return null; // anything after the object: the document path rejects it
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return FillMissing(values, given, null, cancellationToken) is { } missing ? (null, missing) : (values, null);
    }

    /// <summary>Calls the method on <paramref name="actor"/> and awaits its result (bounded by <paramref name="cancellationToken"/>).</summary>
    public async ValueTask<object?> InvokeAsync(object actor, object?[] arguments, CancellationToken cancellationToken)
    {
        var returned = _method.Invoke(actor, BindingFlags.DoNotWrapExceptions, binder: null, arguments, culture: null);
        if (_await is null)
        {
            cancellationToken.ThrowIfCancellationRequested(); // a plain method that overran its deadline still answers 504
            return _returnsNothing ? null : returned;
        }
        if (returned is null)
        {
            throw new InvalidOperationException($"{_method.Name} returned a null {_method.ReturnType.Name}");
        }
        var result = await _await(returned).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        return _returnsNothing ? null : result;
    }

    private static async ValueTask<object?> AwaitPlain(Task task)
    {
        await task.ConfigureAwait(false);
        return null;
    }

    private static async ValueTask<object?> AwaitTask<T>(object task) => await ((Task<T>)task).ConfigureAwait(false);

    private static async ValueTask<object?> AwaitValueTask<T>(object task) => await ((ValueTask<T>)task).ConfigureAwait(false);

    private static ErrorDetail Invalid(string code, string message, string? parameter) => new() { Code = code, Message = message, Parameter = parameter };

    private static string Signature(MethodInfo method, Parameter[] parameters)
    {
        var text = new StringBuilder("(");
        text.AppendJoin(", ", parameters.Where(p => !p.IsToken).Select(p => p.Declaration()));
        text.Append(") -> ").Append(Naming.TypeName(method.ReturnType));
        return text.ToString();
    }

    /// <summary>One parameter: its names, JSON type, default, and the conversion from JSON.</summary>
    private sealed class Parameter
    {
        private readonly Type _type;
        private readonly Type _valueType;
        private readonly bool _acceptsNull;
        private readonly string _method;

        public Parameter(ParameterInfo info, int position, string method)
        {
            Info = info;
            Position = position;
            _method = method;
            _type = info.ParameterType;
            _valueType = Nullable.GetUnderlyingType(_type) ?? _type;
            Name = Naming.SnakeCase(info.Name ?? $"arg{position}");
            IsToken = _type == typeof(CancellationToken);
            IsExtra = info.IsDefined(typeof(ExtraArgumentsAttribute));
            _acceptsNull = !_type.IsValueType
                ? Nullability.Create(info).ReadState != NullabilityState.NotNull || _type == typeof(object) || typeof(JsonNode).IsAssignableFrom(_type)
                : Nullable.GetUnderlyingType(_type) is not null;
            HasDefault = info.HasDefaultValue;
            if (HasDefault)
            {
                var value = info.DefaultValue;
                DefaultValue = value is null && _type.IsValueType && Nullable.GetUnderlyingType(_type) is null ? Activator.CreateInstance(_type)
                    : value is not null && _valueType.IsEnum && value.GetType() != _valueType ? Enum.ToObject(_valueType, value)
                    : value;
            }
        }

        public ParameterInfo Info { get; }
        public int Position { get; }
        /// <summary>The snake_case name; the C# name is accepted too.</summary>
        public string Name { get; }
        public bool IsToken { get; }
        public bool IsExtra { get; }
        public bool HasDefault { get; }
        public object? DefaultValue { get; }
        public object? Converted { get; private set; }

        public static bool IsExtraType(Type type) =>
            type == typeof(IReadOnlyDictionary<string, JsonElement>) || type == typeof(Dictionary<string, JsonElement>) || type == typeof(IDictionary<string, JsonElement>);

        public ParameterDescriptor Describe() => new()
        {
            Name = Name,
            Type = IsExtra ? "object" : JsonTypeOf(_valueType),
            Required = !HasDefault && !IsExtra,
            Default = HasDefault && DefaultValue is not null ? JsonSerializer.SerializeToElement(DefaultValue, _type, ActorJson.Write) : null,
            Kind = IsExtra ? "var_keyword" : "positional_or_keyword",
        };

        public string Declaration()
        {
            var text = $"{Naming.TypeName(_type)}{(_acceptsNull && !_type.IsValueType && _type != typeof(object) ? "?" : "")} {Info.Name}";
            if (IsExtra)
            {
                return "[ExtraArguments] " + text;
            }
            if (HasDefault)
            {
                text += " = " + (DefaultValue is null ? "null" : JsonSerializer.Serialize(DefaultValue, _type, ActorJson.Write));
            }
            return text;
        }

        /// <summary>Converts <paramref name="value"/> into <see cref="Converted"/>, or returns the 400 naming this parameter.</summary>
        public ErrorDetail? Convert(JsonElement value)
        {
            if (value.ValueKind == JsonValueKind.Null)
            {
                if (!_acceptsNull)
                {
                    return Mismatch(value);
                }
                Converted = null;
                return null;
            }
            if (TryReadExactly(value) is { } exact)
            {
                Converted = exact;
                return null;
            }
            try
            {
                if (value.ValueKind == JsonValueKind.Number && IsInteger(_valueType) && !value.TryGetInt64(out _)
                    && value.TryGetDouble(out var number) && number == Math.Floor(number) && Math.Abs(number) < 9.2e18)
                {
                    // 600.0 for an int: the original passes such values through; a whole number converts exactly.
                    Converted = System.Convert.ChangeType((long)number, _valueType, System.Globalization.CultureInfo.InvariantCulture);
                    return null;
                }
                Converted = value.Deserialize(_type, ActorJson.Read);
                return null;
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or FormatException or OverflowException or ArgumentException)
            {
                return Mismatch(value, e is JsonException { Path: { Length: > 1 } path } ? $" (at {path})" : "");
            }
        }

        /// <summary>
        /// The common parameter types read straight from a JSON value of their own kind, with the serializer's result
        /// (<c>JsonElement.Deserialize</c> writes the value out and parses it again: most of a small call's binding).
        /// Anything else (or null) takes the serializer's path.
        /// </summary>
        private object? TryReadExactly(JsonElement value)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String when _valueType == typeof(string):
                    return value.GetString();
                case JsonValueKind.Number when _valueType == typeof(int):
                    return value.TryGetInt32(out var i) ? i : null;
                case JsonValueKind.Number when _valueType == typeof(long):
                    return value.TryGetInt64(out var l) ? l : null;
                case JsonValueKind.Number when _valueType == typeof(double):
                    return value.TryGetDouble(out var d) ? d : null;
                case JsonValueKind.True or JsonValueKind.False when _valueType == typeof(bool):
                    return value.GetBoolean();
                default:
                    return null;
            }
        }

        /// <summary>
        /// The reader's current value as <see cref="Convert"/> gives it, for the kinds <see cref="TryReadExactly"/>
        /// takes and null; false for anything else, which leaves the reader where it was.
        /// </summary>
        public bool TryRead(ref Utf8JsonReader reader, out object? value)
        {
            value = null;
            switch (reader.TokenType)
            {
                case JsonTokenType.Null:
                    return _acceptsNull;
                case JsonTokenType.String when _valueType == typeof(string):
                    value = reader.GetString();
                    return true;
                case JsonTokenType.Number when _valueType == typeof(int) && reader.TryGetInt32(out var i):
                    value = i;
                    return true;
                case JsonTokenType.Number when _valueType == typeof(long) && reader.TryGetInt64(out var l):
                    value = l;
                    return true;
                case JsonTokenType.Number when _valueType == typeof(double) && reader.TryGetDouble(out var d):
                    value = d;
                    return true;
                case JsonTokenType.True or JsonTokenType.False when _valueType == typeof(bool):
                    value = reader.GetBoolean();
                    return true;
                default:
                    return false;
            }
        }

        private ErrorDetail Mismatch(JsonElement value, string where = "") => new()
        {
            Code = ErrorCodes.InvalidArguments,
            Message = $"parameter '{Name}' of {_method} expects {Naming.TypeName(_type)} ({JsonTypeOf(_valueType) ?? "any JSON"}{(_acceptsNull ? " or null" : "")}), got {JsonKind(value)}{where}",
            Parameter = Name,
        };

        private static bool IsInteger(Type t) => t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte)
            || t == typeof(uint) || t == typeof(ulong) || t == typeof(ushort) || t == typeof(sbyte);

        private static string JsonKind(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => $"string \"{Truncate(value.GetString()!)}\"",
            JsonValueKind.Number => $"number {Truncate(value.GetRawText())}",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Array => "array",
            JsonValueKind.Object => "object",
            _ => "null",
        };

        private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";
    }

    /// <summary>The JSON schema type of a C# type, null for "anything" (object, JsonElement, JsonNode).</summary>
    internal static string? JsonTypeOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(bool))
        {
            return "boolean";
        }
        if (type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) || type == typeof(uint)
            || type == typeof(ulong) || type == typeof(ushort) || type == typeof(sbyte))
        {
            return "integer";
        }
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return "number";
        }
        if (type == typeof(string) || type == typeof(char) || type.IsEnum || type == typeof(Guid) || type == typeof(DateTime)
            || type == typeof(DateTimeOffset) || type == typeof(TimeSpan) || type == typeof(DateOnly) || type == typeof(TimeOnly) || type == typeof(Uri))
        {
            return "string";
        }
        if (type == typeof(object) || type == typeof(JsonElement) || type == typeof(JsonNode) || type == typeof(JsonValue))
        {
            return null;
        }
        if (type == typeof(JsonArray) || (type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type) && !IsDictionary(type)))
        {
            return "array";
        }
        return "object";
    }

    private static bool IsDictionary(Type type) => typeof(IDictionary).IsAssignableFrom(type)
        || type.GetInterfaces().Append(type).Any(i => i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
}

/// <summary>Names as the wire shows them.</summary>
internal static class Naming
{
    /// <summary><c>Evaluate</c> -> <c>evaluate</c>, <c>taskId</c> -> <c>task_id</c>, <c>GetHTTPStatus</c> -> <c>get_http_status</c>.</summary>
    public static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    public static string Display(MethodInfo method) =>
        $"{method.Name}({string.Join(", ", method.GetParameters().Select(p => TypeName(p.ParameterType)))})";

    /// <summary>A C# spelling of a type: <c>Task&lt;Dictionary&lt;string, int&gt;&gt;</c>, <c>int?</c>.</summary>
    public static string TypeName(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner)
        {
            return TypeName(inner) + "?";
        }
        if (type.IsArray)
        {
            return TypeName(type.GetElementType()!) + "[]";
        }
        var keyword = Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "bool",
            TypeCode.Int32 => "int",
            TypeCode.Int64 => "long",
            TypeCode.Int16 => "short",
            TypeCode.Byte => "byte",
            TypeCode.Double => "double",
            TypeCode.Single => "float",
            TypeCode.Decimal => "decimal",
            TypeCode.String => "string",
            TypeCode.Char => "char",
            _ => null,
        };
        if (keyword is not null && !type.IsEnum)
        {
            return keyword;
        }
        if (type == typeof(void))
        {
            return "void";
        }
        if (type == typeof(object))
        {
            return "object";
        }
        if (!type.IsGenericType)
        {
            return type.Name;
        }
        var name = type.Name;
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        if (name.StartsWith("<>f__AnonymousType", StringComparison.Ordinal))
        {
            return "anonymous";
        }
        return $"{(tick < 0 ? name : name[..tick])}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>";
    }
}
