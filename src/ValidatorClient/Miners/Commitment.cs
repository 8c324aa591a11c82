using System.Text;
using System.Text.RegularExpressions;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// What a commitment (<c>pallet_commitments::types::Registration</c>: deposit, block, info.fields, a list of
/// <c>Data</c>) says about a miner's image. The Bittensor SDK's <c>get_commitment</c> reads the first field's raw bytes as
/// UTF-8, dropping bytes that are not; here every raw field (<c>Raw0</c> to <c>Raw128</c>, <c>BigRaw</c>) is read,
/// strictly, and they must agree, so that whenever an image comes out it is the one the SDK reads. Empty raw fields,
/// <c>None</c> and flags such as <c>ResetBondsFlag</c> say nothing; hashes and timelocked data are not an image.
/// </summary>
internal static partial class Commitment
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The image or the problem, and the commitment's block.</summary>
    public static (string? Image, string? Problem, long? Block) Read(ScaleValue registration)
    {
        if (registration is not ScaleComposite composite || Unwrap(composite.Field("info")) is not ScaleComposite info
            || Unwrap(info.Field("fields")) is not ScaleList fields)
        {
            return (null, "the commitment is not a Registration { block, info: { fields } } (has the runtime changed?)", null);
        }
        var block = composite.Field("block")?.AsInteger() is { } b && b >= 0 && b <= long.MaxValue ? (long?)(long)b : null;
        var texts = new List<string>();
        var other = new List<string>();
        foreach (var field in fields.Items)
        {
            if (field is not ScaleVariant data)
            {
                return (null, "the commitment's fields are not Data values (has the runtime changed?)", block);
            }
            if (IsRaw(data.Name) && data.Fields.Count == 1 && data.Fields[0].Value.AsBytes() is { } bytes)
            {
                if (bytes.Length == 0)
                {
                    continue;
                }
                try
                {
                    texts.Add(StrictUtf8.GetString(bytes));
                }
                catch (DecoderFallbackException)
                {
                    return (null, "commitment is not UTF-8", block);
                }
            }
            else if (data.Fields.Count > 0)
            {
                other.Add(data.Name);
            }
        }
        var distinct = texts.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count switch
        {
            0 when other.Count > 0 => (null, $"commitment holds no raw data, only {string.Join(", ", other.Distinct())}", block),
            0 => (null, "commitment is empty", block),
            1 when ImageReference.Check(distinct[0]) is { } why => (null, why, block),
            1 => (distinct[0], null, block),
            _ => (null, $"commitment has several fields that disagree: {string.Join(", ", distinct.Select(ImageReference.Quote))}", block),
        };
    }

    /// <summary>Raw data of a known length (<c>Raw0</c> to <c>Raw128</c>) or of any (<c>BigRaw</c>), by the variant's name.</summary>
    private static bool IsRaw(string variant) => variant == "BigRaw" || RawN().IsMatch(variant);

    /// <summary>A newtype such as <c>BoundedVec</c> around its one unnamed field.</summary>
    private static ScaleValue? Unwrap(ScaleValue? value) => value is ScaleComposite { Fields: [{ Name: null } only] } ? Unwrap(only.Value) : value;

    [GeneratedRegex(@"^Raw[0-9]{1,3}\z", RegexOptions.CultureInvariant)]
    private static partial Regex RawN();
}
