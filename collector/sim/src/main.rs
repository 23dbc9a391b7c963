//! `flowvision-sim`: see `flowvision-sim --help`.

use anyhow::Context;
use clap::Parser;
use flowvision_sim::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowvision-sim: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn real_main(cli: &Cli) -> anyhow::Result<()> {
    let scenario = cli.scenario()?;
    if cli.print_scenario {
        print!("{}", scenario.to_toml());
        return Ok(());
    }
    let now = flowvision_sim::clock::now_ms();
    // Without --seed: one from the clock, printed so the run can be repeated.
    let fallback_seed = (now as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(std::process::id());
    let plan = scenario.resolve(now, fallback_seed)?;
    let options = cli.run_options()?;
    if options.targets.is_empty() && options.pcap.is_none() && options.records.is_none() && !cli.quiet {
        eprintln!("flowvision-sim: no --target, --pcap or --records: generating only (dry run)");
    }
    let summary = flowvision_sim::start(plan, &options)?.join()?.summary;
    if let Some(p) = &cli.summary_json {
        let text = serde_json::to_string_pretty(&summary)?;
        std::fs::write(p, text + "\n").with_context(|| format!("cannot write {}", p.display()))?;
    }
    if !cli.quiet {
        eprint!("{summary}");
    }
    Ok(())
}
