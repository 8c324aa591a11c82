using Microsoft.Extensions.Options;

namespace Affinetes.ValidatorClient;

/// <summary>
/// Checks the client's settings as the options system builds them (<c>AddAffinetes</c> registers it, with
/// <c>ValidateOnStart</c>): a bad configuration section stops the host at its start with every problem listed,
/// rather than the first Docker environment failing on one of them later.
/// </summary>
internal sealed class AffinetesClientOptionsValidator : IValidateOptions<AffinetesClientOptions>
{
    public ValidateOptionsResult Validate(string? name, AffinetesClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Errors();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
