namespace Affinetes.Actors;

/// <summary>
/// Marks the parameter that receives every keyword argument the method does not declare, like Python's
/// <c>**kwargs</c>. Its type must be <c>IReadOnlyDictionary&lt;string, JsonElement&gt;</c> (or
/// <c>Dictionary&lt;string, JsonElement&gt;</c>); without it an unknown argument is answered 400.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class ExtraArgumentsAttribute : Attribute;
