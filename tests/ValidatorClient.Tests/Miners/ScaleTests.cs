using System.Globalization;
using System.Numerics;
using Affinetes.Testing;
using Affinetes.ValidatorClient.Miners.Substrate;

namespace Affinetes.ValidatorClient.Tests.Miners;

/// <summary>The SCALE reader, encoder and registry-driven decoder on known vectors.</summary>
[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ScaleTests
{
    [Theory]
    [InlineData("00", "0")]
    [InlineData("04", "1")]
    [InlineData("fc", "63")]
    [InlineData("0101", "64")]
    [InlineData("fdff", "16383")]
    [InlineData("02000100", "16384")]
    [InlineData("feffffff", "1073741823")]
    [InlineData("0300000040", "1073741824")]
    [InlineData("13ffffffffffffffff", "18446744073709551615")]
    public void Compact_KnownVectors_DecodeAndEncode(string hex, string value)
    {
        var reader = new ScaleReader(Convert.FromHexString(hex));
        Assert.Equal(BigInteger.Parse(value, CultureInfo.InvariantCulture), reader.ReadCompact());
        Assert.Equal(0, reader.Remaining);
        var written = new List<byte>();
        ScaleEncoder.WriteCompact(written, BigInteger.Parse(value, CultureInfo.InvariantCulture));
        Assert.Equal(hex, Convert.ToHexStringLower([.. written]));
    }

    [Fact]
    public void Reader_PastTheEnd_SaysWhere()
    {
        var e = Assert.Throws<ScaleFormatException>(() => new ScaleReader(new byte[] { 0x08, 0x01 }).ReadByteVector());
        Assert.Contains("needs 2 bytes at offset 1, 1 left", e.Message);
    }

    [Fact]
    public void Reader_VectorLongerThanItsBytes_IsRefusedBeforeAllocating()
    {
        var e = Assert.Throws<ScaleFormatException>(() => new ScaleReader(Convert.FromHexString("feffffff00")).ReadVector(r => r.ReadByte()));
        Assert.Contains("longer than", e.Message);
    }

    [Theory]
    [InlineData("Lsb0", "140d", "10110")]  // bits 1,0,1,1,0 from the least significant: 0b0000_1101
    [InlineData("Msb0", "14b0", "10110")]  // from the most significant: 0b1011_0000
    [InlineData("Lsb0", "240f01", "111100001")]
    public void BitSequence_U8Store_ReadsInTheGivenOrder(string order, string hex, string bits)
    {
        var value = Assert.IsType<ScaleBits>(new ScaleDecoder(BitRegistry(order)).Decode(2, Convert.FromHexString(hex)));
        Assert.Equal(bits, string.Concat(value.Bits.Select(b => b ? '1' : '0')));
    }

    [Fact]
    public void Decode_BytesLeftOver_IsAnError()
    {
        var e = Assert.Throws<ScaleFormatException>(() => new ScaleDecoder(BitRegistry("Lsb0")).Decode(0, new byte[] { 1, 2 }));
        Assert.Contains("1 bytes are left", e.Message);
    }

    [Fact]
    public void Decode_UnknownVariantIndex_NamesTheType()
    {
        var registry = SubtensorData.V14.Types;
        var data = SubtensorData.V14.Storage("Commitments", "CommitmentOf")!;
        // Registration { deposit: 0, block: 0, info: { fields: [variant 250] } }
        var e = Assert.Throws<ScaleFormatException>(() => new ScaleDecoder(registry).Decode(data.ValueType, Convert.FromHexString("0000000000000000" + "00000000" + "04fa")));
        Assert.Contains("250 is not a variant index of pallet_commitments::types::Data", e.Message);
    }

    [Fact]
    public void EncodeThenDecode_ACommitmentKeyTuple_RoundTrips()
    {
        var metadata = SubtensorData.V14;
        var entry = metadata.Storage("Commitments", "CommitmentOf")!;
        var account = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var key = new ScaleList([new ScaleInteger(7), new ScaleBytes(account)]);
        var encoded = new ScaleEncoder(metadata.Types).Encode(entry.KeyType!.Value, key);
        Assert.Equal("0700" + Convert.ToHexStringLower(account), Convert.ToHexStringLower(encoded));
        var decoded = Assert.IsType<ScaleList>(new ScaleDecoder(metadata.Types).Decode(entry.KeyType!.Value, encoded));
        Assert.Equal(7, (int)decoded.Items[0].AsInteger()!.Value);
        Assert.Equal(account, decoded.Items[1].AsBytes());
    }

    [Fact]
    public void Encode_OutOfRange_IsRefused()
    {
        var metadata = SubtensorData.V14;
        var netuid = metadata.Storage("SubtensorModule", "SubnetworkN")!.KeyType!.Value;
        var e = Assert.Throws<ScaleFormatException>(() => new ScaleEncoder(metadata.Types).Encode(netuid, new ScaleInteger(70000)));
        Assert.Contains("70000 does not fit U16", e.Message);
    }

    /// <summary>A registry of three types, written by hand: #0 u8, #1 the bit order (path bitvec::order::ORDER), #2 BitVec&lt;u8, #1&gt;.</summary>
    private static TypeRegistry BitRegistry(string order)
    {
        var bytes = new List<byte> { 3 << 2 };
        // #0: no path, no params, primitive u8, no docs
        bytes.AddRange([0 << 2, 0, 0, 5, 3, 0]);
        // #1: path ["bitvec", "order", ORDER], a composite without fields
        bytes.AddRange([1 << 2, 3 << 2]);
        foreach (var segment in new[] { "bitvec", "order", order })
        {
            bytes.Add((byte)(segment.Length << 2));
            bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(segment));
        }
        bytes.AddRange([0, 0, 0, 0]);
        // #2: bit sequence of store #0 and order #1
        bytes.AddRange([2 << 2, 0, 0, 7, 0 << 2, 1 << 2, 0]);
        return TypeRegistry.Read(new ScaleReader(bytes.ToArray()));
    }
}
