using System.Buffers.Binary;
using System.IO.Hashing;
using Konscious.Security.Cryptography;

namespace Affinetes.ValidatorClient.Miners.Substrate;

/// <summary>A storage map's key hasher, in the order of the metadata's <c>StorageHasher</c> enum.</summary>
internal enum StorageHasher : byte
{
    Blake2_128 = 0,
    Blake2_256 = 1,
    Blake2_128Concat = 2,
    Twox128 = 3,
    Twox256 = 4,
    Twox64Concat = 5,
    Identity = 6,
}

/// <summary>Substrate's hashes: twox (xxHash64 with seeds 0, 1, ... little-endian, concatenated) and Blake2b.</summary>
internal static class Hashing
{
    /// <summary>twox with <paramref name="bits"/> of output (64, 128 or 256).</summary>
    public static byte[] Twox(ReadOnlySpan<byte> data, int bits)
    {
        var output = new byte[bits / 8];
        for (var seed = 0; seed < bits / 64; seed++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(output.AsSpan(seed * 8), XxHash64.HashToUInt64(data, seed));
        }
        return output;
    }

    /// <summary>twox128 of a UTF-8 name, as a pallet prefix or storage item name is hashed.</summary>
    public static byte[] Twox128(string name) => Twox(System.Text.Encoding.UTF8.GetBytes(name), 128);

    /// <summary>Keyless Blake2b with <paramref name="bits"/> of output.</summary>
    public static byte[] Blake2(ReadOnlySpan<byte> data, int bits)
    {
        using var blake = new HMACBlake2B(bits);
        return blake.ComputeHash(data.ToArray());
    }

    /// <summary>A storage map key part: <paramref name="encoded"/> (its SCALE encoding) through <paramref name="hasher"/>.</summary>
    public static byte[] Hash(StorageHasher hasher, ReadOnlySpan<byte> encoded) => hasher switch
    {
        StorageHasher.Blake2_128 => Blake2(encoded, 128),
        StorageHasher.Blake2_256 => Blake2(encoded, 256),
        StorageHasher.Blake2_128Concat => [.. Blake2(encoded, 128), .. encoded],
        StorageHasher.Twox128 => Twox(encoded, 128),
        StorageHasher.Twox256 => Twox(encoded, 256),
        StorageHasher.Twox64Concat => [.. Twox(encoded, 64), .. encoded],
        StorageHasher.Identity => encoded.ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(hasher), hasher, "unknown storage hasher"),
    };
}
