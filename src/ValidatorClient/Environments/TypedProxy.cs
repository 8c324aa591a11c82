using System.Reflection;
using System.Text.Json;

namespace Affinetes.ValidatorClient.Environments;

/// <summary>Names the Actor method or parameter a C# member stands for, when snake_case of its name is not it.</summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Parameter)]
public sealed class ActorNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>
/// Typed client over an environment: <c>Task&lt;Score&gt; EvaluateAsync(int taskId, string model, TimeSpan? timeout = null,
/// CancellationToken cancellationToken = default)</c> calls <c>evaluate(task_id=..., model=...)</c> with that deadline.
/// Parameters are keyword arguments; a <c>TimeSpan</c> parameter is the deadline, a <c>CancellationToken</c> the cancellation.
/// </summary>
internal class TypedProxy : DispatchProxy
{
    private static readonly MethodInfo CallTyped = typeof(IEnvironment).GetMethods().Single(m => m.Name == nameof(IEnvironment.CallAsync) && m.IsGenericMethod);

    private IEnvironment _environment = null!;

    internal static T Create<T>(IEnvironment environment) where T : class
    {
        if (!typeof(T).IsInterface)
        {
            throw new ArgumentException($"{typeof(T).Name} must be an interface to make a typed client of it");
        }
        var proxy = Create<T, TypedProxy>();
        ((TypedProxy)(object)proxy)._environment = environment;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        args ??= [];
        var name = targetMethod.GetCustomAttribute<ActorNameAttribute>()?.Name ?? SnakeCase(StripAsync(targetMethod.Name));
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        TimeSpan? timeout = null;
        var cancellationToken = CancellationToken.None;
        var parameters = targetMethod.GetParameters();
        for (var i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            if (p.ParameterType == typeof(CancellationToken))
            {
                cancellationToken = (CancellationToken)args[i]!;
            }
            else if (p.ParameterType == typeof(TimeSpan) || p.ParameterType == typeof(TimeSpan?))
            {
                timeout = (TimeSpan?)args[i];
            }
            else
            {
                kwargs[p.GetCustomAttribute<ActorNameAttribute>()?.Name ?? SnakeCase(p.Name!)] = args[i];
            }
        }
        var returnType = targetMethod.ReturnType;
        if (returnType == typeof(Task))
        {
            return _environment.CallAsync(name, null, kwargs, timeout, cancellationToken);
        }
        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            return CallTyped.MakeGenericMethod(returnType.GetGenericArguments()[0]).Invoke(_environment, [name, null, kwargs, timeout, cancellationToken]);
        }
        throw new NotSupportedException($"{targetMethod.Name} must return Task or Task<T> to call the environment");
    }

    private static string StripAsync(string name) => name.EndsWith("Async", StringComparison.Ordinal) && name.Length > 5 ? name[..^5] : name;

    private static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
