using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using System.Text.Json;

namespace Affinetes.Bench;

/// <summary>
/// The floor for the C# runtime: a bare Kestrel endpoint doing the same JSON work (read the /call body, parse it, write
/// the success envelope with the echoed arguments), with no auth, limits, routing by method or logging. A call with
/// <c>delay_ms</c> is the bench actors' async evaluate: it awaits the same <c>Task.Delay</c> first.
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
            var evaluate = kwargs.TryGetProperty("delay_ms", out var delay);
            if (evaluate)
            {
                await Task.Delay(delay.GetInt32(), context.RequestAborted); // the bench actors' evaluate: the floor of the async workload
            }
            context.Response.ContentType = "application/json";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
            writer.WriteStartObject();
            writer.WriteString("status", "success");
            writer.WritePropertyName("result");
            writer.WriteStartObject();
            if (evaluate)
            {
                writer.WriteNumber("task_id", kwargs.GetProperty("task_id").GetInt32());
                writer.WriteNumber("score", 1.0);
                writer.WriteBoolean("success", true);
            }
            else
            {
                writer.WriteNumber("x", kwargs.GetProperty("x").GetInt32());
                writer.WriteString("text", kwargs.GetProperty("text").GetString());
            }
            writer.WriteEndObject();
            writer.WriteNull("error");
            writer.WriteEndObject();
        });
        await app.RunAsync();
        return 0;
    }
}
