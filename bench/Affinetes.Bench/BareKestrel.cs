using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using System.Text.Json;

namespace Affinetes.Bench;

/// <summary>
/// The floor for the C# runtime's echo: a bare Kestrel endpoint doing the same JSON work (read the /call body, parse
/// it, write the success envelope with the echoed arguments), with no auth, limits, routing by method or logging.
/// </summary>
public static class BareKestrel
{
    public static async Task<int> RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port);
        });
        var app = builder.Build();
        app.MapPost("/call", async context =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var kwargs = body.RootElement.GetProperty("kwargs");
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
            writer.WriteStartObject();
            writer.WriteString("status", "success");
            writer.WritePropertyName("result");
            writer.WriteStartObject();
            writer.WriteNumber("x", kwargs.GetProperty("x").GetInt32());
            writer.WriteString("text", kwargs.GetProperty("text").GetString());
            writer.WriteEndObject();
            writer.WriteNull("error");
            writer.WriteEndObject();
        });
        await app.RunAsync();
        return 0;
    }
}
