using System.Numerics;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>A value decoded by the type registry: the shape of the type, with names where the metadata gives them.</summary>
internal abstract record ScaleValue;

/// <summary>A struct (named fields) or tuple struct (unnamed fields).</summary>
internal sealed record ScaleComposite(IReadOnlyList<ScaleField> Fields) : ScaleValue
{
    public ScaleValue? Field(string name) => Fields.FirstOrDefault(f => f.Name == name)?.Value;
}

/// <summary>An enum value: the case's name and index and its fields.</summary>
internal sealed record ScaleVariant(string Name, byte Index, IReadOnlyList<ScaleField> Fields) : ScaleValue;

/// <summary>A sequence, array or tuple of values (bytes are a <see cref="ScaleBytes"/>).</summary>
internal sealed record ScaleList(IReadOnlyList<ScaleValue> Items) : ScaleValue;

/// <summary>A <c>Vec&lt;u8&gt;</c> or <c>[u8; N]</c>.</summary>
internal sealed record ScaleBytes(byte[] Bytes) : ScaleValue
{
    public string Hex => "0x" + Convert.ToHexStringLower(Bytes);
}

/// <summary>Any integer: u8 to u256, i8 to i256, compact.</summary>
internal sealed record ScaleInteger(BigInteger Value) : ScaleValue;

internal sealed record ScaleBool(bool Value) : ScaleValue;

/// <summary>A <c>str</c> or <c>char</c>.</summary>
internal sealed record ScaleText(string Value) : ScaleValue;

/// <summary>A bit sequence, first bit first.</summary>
internal sealed record ScaleBits(IReadOnlyList<bool> Bits) : ScaleValue;

/// <summary>A field of a composite or variant; <see cref="Name"/> is null for unnamed fields.</summary>
internal sealed record ScaleField(string? Name, ScaleValue Value);

internal static class ScaleValues
{
    /// <summary>
    /// The bytes of a value that is bytes at heart: <c>[u8; 32]</c>, or a newtype around it such as <c>AccountId32</c>
    /// or <c>BoundedVec&lt;u8, _&gt;</c>. Null for anything else.
    /// </summary>
    public static byte[]? AsBytes(this ScaleValue value) => value switch
    {
        ScaleBytes b => b.Bytes,
        ScaleComposite { Fields.Count: 1 } c => c.Fields[0].Value.AsBytes(),
        _ => null,
    };

    /// <summary>The integer of a value that is an integer at heart (a newtype around one counts).</summary>
    public static BigInteger? AsInteger(this ScaleValue value) => value switch
    {
        ScaleInteger i => i.Value,
        ScaleComposite { Fields.Count: 1 } c => c.Fields[0].Value.AsInteger(),
        _ => null,
    };
}
