//! Stage 2, device and signals: the device described from the agent's components, the
//! fingerprint the matching index compares, what the IP data knows of the client's address,
//! and the detection signals (bot, VPN, proxy, tampering, …). Pure: reads only the engines
//! loaded at start-up.

use prynt_identify::{BrowserKind, Fingerprint};
use prynt_signals::detect::{self, Signals};
use prynt_signals::device::DeviceInfo;
use prynt_signals::ip::IpInfo;

use super::request::Admitted;
use crate::state::AppState;

/// The device and what it shows.
pub struct Observed {
    pub device: DeviceInfo,
    pub fingerprint: Fingerprint,
    pub ip: IpInfo,
    /// The client's address as text, unmasked: velocity and list side effects use it.
    pub client_text: String,
    pub signals: Signals,
}

pub fn observe(state: &AppState, admitted: &Admitted) -> Observed {
    let components = &admitted.payload.components;
    let device = state.identity.parser.describe(components);
    let kind = BrowserKind {
        os: &device.platform,
        family: &device.browser_family,
        major: device.browser_major,
    };
    let fingerprint =
        Fingerprint::from_components(components, &kind).with_network(Some(admitted.client));
    let ip = state.ip_intel.lookup(admitted.client);
    let signals = detect::detect(&detect::Input {
        components,
        device: &device,
        ip: &ip,
        request: &admitted.request,
    });
    Observed {
        client_text: admitted.client.to_string(),
        device,
        fingerprint,
        ip,
        signals,
    }
}
