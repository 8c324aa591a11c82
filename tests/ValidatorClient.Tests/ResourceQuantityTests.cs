using Affinetes.Testing;
using Affinetes.ValidatorClient.Environments;

namespace Affinetes.ValidatorClient.Tests;

[Trait(Tiers.Name, Tiers.Unit)]
public sealed class ResourceQuantityTests
{
    [Theory]
    [InlineData("2", 2000)]
    [InlineData("0.5", 500)]
    [InlineData("2000m", 2000)]
    [InlineData(" 1.25 ", 1250)]
    [InlineData("250m", 250)]
    public void Cpu_AcceptedForms_ParseToMillicores(string text, long millicores)
    {
        var cpu = CpuQuantity.Parse(text);
        Assert.Equal(millicores, cpu.Millicores);
        Assert.Equal(millicores * 1_000_000, cpu.NanoCpus);
        Assert.Equal($"{millicores}m", cpu.ToMillicoreString());
    }

    [Theory]
    [InlineData("1.5x")]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("2 cores")]
    [InlineData("0.0001")]
    public void Cpu_BadValue_ErrorNamesValueAndForms(string text)
    {
        var e = Assert.Throws<FormatException>(() => CpuQuantity.Parse(text));
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("2000m", e.Message);
    }

    [Theory]
    [InlineData("8Gi", 8L << 30, "8Gi")]
    [InlineData("512Mi", 512L << 20, "512Mi")]
    [InlineData("1g", 1L << 30, "1Gi")]
    [InlineData("1G", 1L << 30, "1Gi")]
    [InlineData("512m", 512L << 20, "512Mi")]
    [InlineData("1gb", 1L << 30, "1Gi")]
    [InlineData("1.5Gi", 3L << 29, "1536Mi")]
    [InlineData("1048576", 1L << 20, "1Mi")]
    public void Memory_AcceptedForms_ParseToBytes(string text, long bytes, string kubernetes)
    {
        var memory = MemoryQuantity.Parse(text);
        Assert.Equal(bytes, memory.Bytes);
        Assert.Equal(kubernetes, memory.ToKubernetesString());
    }

    [Theory]
    [InlineData("8GiB2")]
    [InlineData("lots")]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("12x")]
    public void Memory_BadValue_ErrorNamesValueAndForms(string text)
    {
        var e = Assert.Throws<FormatException>(() => MemoryQuantity.Parse(text));
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("512Mi", e.Message);
    }
}
