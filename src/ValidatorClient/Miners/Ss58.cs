using System.Numerics;
using System.Text;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Miners;

/// <summary>
/// SS58 addresses, as wallets and btcli show hotkeys: base58 of the network prefix, the 32-byte account and the first
/// two bytes of blake2b-512("SS58PRE" ++ prefix ++ account).
/// </summary>
internal static class Ss58
{
    /// <summary>Bittensor's prefix (the generic Substrate one).</summary>
    public const byte BittensorPrefix = 42;

    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    public static string Encode(ReadOnlySpan<byte> account, byte prefix = BittensorPrefix)
    {
        if (prefix > 63)
        {
            throw new ArgumentOutOfRangeException(nameof(prefix), prefix, "only simple (one-byte) prefixes are supported");
        }
        byte[] payload = [prefix, .. account];
        var checksum = Hashing.Blake2([.. "SS58PRE"u8, .. payload], 512);
        return Base58([.. payload, checksum[0], checksum[1]]);
    }

    private static string Base58(byte[] bytes)
    {
        var number = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        var text = new StringBuilder();
        while (number > 0)
        {
            number = BigInteger.DivRem(number, 58, out var digit);
            text.Insert(0, Alphabet[(int)digit]);
        }
        foreach (var b in bytes)
        {
            if (b != 0)
            {
                break;
            }
            text.Insert(0, '1');
        }
        return text.ToString();
    }
}
