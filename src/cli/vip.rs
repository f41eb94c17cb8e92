//! check_raw_vip's options: taken raw from the command line, then checked
//! into a `VipConfig`. The positional arguments are the C form's first
//! three (no PORT: the VIP itself is what is checked).

use super::values::parse_port_named;
use super::{Collector, Common, VipConfig};
use crate::outcome::State;
use crate::text;

/// The VIP check's options as given, before they are checked.
#[derive(Debug, Default)]
pub(super) struct VipOptions {
    port: Option<String>,
    arp_leak: Option<String>,
    segment: bool,
}

impl VipOptions {
    pub(super) fn take(c: &mut Collector) -> VipOptions {
        VipOptions {
            port: c.value(["-p", "--port"]),
            arp_leak: c.value("--arp-leak"),
            segment: c.flag("--segment"),
        }
    }

    /// Check every value. `clean_close` (`-c`) has no meaning here: the
    /// SYN of `--port` is always answered by RST, the one ending that
    /// leaves nothing behind on the server.
    pub(super) fn into_config(
        self,
        mut common: Common,
        clean_close: bool,
    ) -> Result<VipConfig, String> {
        if clean_close {
            return Err("-c is for the TCP and HTTP checks: check_raw_vip resets the SYN/ACK of --port at once".into());
        }
        let port = self
            .port
            .as_deref()
            .map(|p| parse_port_named("--port", p, false))
            .transpose()?;
        if port.is_none() && common.target.source_port.is_some() {
            return Err("--source-port needs --port (the echo request has no port)".into());
        }
        let arp_leak = match self.arp_leak.as_deref() {
            None | Some("warning") => State::Warning,
            Some("critical") => State::Critical,
            Some(other) => {
                return Err(format!(
                    "invalid --arp-leak '{}': warning or critical",
                    text::arg(other)
                ))
            }
        };
        // The shared target's port is the TCP probe's, 0 for the echo.
        common.target.port = port.unwrap_or(0);
        Ok(VipConfig {
            common,
            port,
            arp_leak,
            segment: self.segment,
        })
    }
}
