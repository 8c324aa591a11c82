using Affinetes.ValidatorClient;
using Affinetes.ValidatorClient.Environments;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the validator client in an ASP.NET Core or Generic Host application.</summary>
public static class AffinetesServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="IAffinetesClient"/> (a singleton): environments log through the application's
    /// <see cref="ILoggerFactory"/>, call their replicas with clients from <see cref="IHttpClientFactory"/>, and are
    /// released when the application stops (the container disposes the client). The client's settings are checked
    /// when the host starts: bad ones fail its start with an <see cref="OptionsValidationException"/> listing every problem.
    /// </summary>
    public static IServiceCollection AddAffinetes(this IServiceCollection services) => services.AddAffinetes(_ => { });

    /// <summary>Like <see cref="AddAffinetes(IServiceCollection)"/>, with the client's settings set by <paramref name="configure"/>.</summary>
    public static IServiceCollection AddAffinetes(this IServiceCollection services, Action<AffinetesClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<AffinetesClientOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AffinetesClientOptions>, AffinetesClientOptionsValidator>());
        services.AddHttpClient(HttpClients.Name).ConfigurePrimaryHttpMessageHandler(() => HttpClients.CreateHandler(verifyTls: true));
        services.AddHttpClient(HttpClients.InsecureName).ConfigurePrimaryHttpMessageHandler(() => HttpClients.CreateHandler(verifyTls: false));
        services.TryAddSingleton<IAffinetesClient>(provider =>
        {
            var factory = provider.GetRequiredService<IHttpClientFactory>();
            return new EnvironmentLoader(
                provider.GetService<ILoggerFactory>() ?? Logging.Abstractions.NullLoggerFactory.Instance,
                environment => HttpClients.Configure(factory.CreateClient(environment.VerifyTls ? HttpClients.Name : HttpClients.InsecureName), environment),
                provider.GetRequiredService<IOptions<AffinetesClientOptions>>().Value);
        });
        return services;
    }

    /// <summary>Like <see cref="AddAffinetes(IServiceCollection, Action{AffinetesClientOptions}?)"/>, with settings bound from <paramref name="configuration"/> (e.g. the <c>Affinetes</c> section).</summary>
    public static IServiceCollection AddAffinetes(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddAffinetes();
        services.Configure<AffinetesClientOptions>(configuration);
        return services;
    }
}
