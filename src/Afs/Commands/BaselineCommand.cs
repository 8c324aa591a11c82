using System.CommandLine;
using Affinetes.Afs.Cli;
using Affinetes.Afs.Evaluation;
using Affinetes.Baseline;

namespace Affinetes.Afs.Commands;

/// <summary><c>afs baseline serve</c>: the offline baseline model on its own, for environments started by hand.</summary>
internal sealed class BaselineCommand : Command
{
    public BaselineCommand()
        : base("baseline", "The offline baseline model (a keyword heuristic behind the OpenAI chat-completions API).")
    {
        Subcommands.Add(new ServeCommand());
    }

    private sealed class ServeCommand : AfsCommand
    {
        private readonly Option<int> _port = new("--port") { Description = "port to listen on (0: any free port)", DefaultValueFactory = _ => OfflineModel.DefaultPort };
        private readonly Option<string> _bind = new("--bind") { Description = "address to listen on: 127.0.0.1, or 0.0.0.0 to be reached from containers on a Docker network", DefaultValueFactory = _ => "127.0.0.1" };

        public ServeCommand()
            : base("serve", "Serve the baseline model until Ctrl+C; point an environment's base_url at it.")
        {
            Options.Add(_port);
            Options.Add(_bind);
        }

        protected override string CancelledMessage(CommandContext context) => "stopped";

        protected override async Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken)
        {
            await using var server = await BaselineServer.StartAsync(new BaselineServerOptions
            {
                Bind = context.Get(_bind)!,
                Port = context.Get(_port),
                LoggerFactory = context.LoggerFactory,
            }, cancellationToken);
            if (context.Json)
            {
                context.Console.WriteJson(new { base_url = server.BaseUrl, model = BaselineModel.Name, api_key = "any" });
            }
            else
            {
                context.Console.Line($"{OfflineModel.Label} serving OpenAI chat completions at {server.BaseUrl} until Ctrl+C");
                context.Console.Line($"an environment reaches it with base_url={server.BaseUrl} model={BaselineModel.Name} and any API key " +
                    "(from a container: run it with --host-network, or serve with --bind 0.0.0.0 and use the Docker network's gateway address)");
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return ExitCodes.Ok;
        }
    }
}
