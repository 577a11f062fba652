// Start the dashboard (a file of its own: the Content-Security-Policy allows
// no inline script).
import init from "/baseline_dashboard.js";
init({ module_or_path: "/baseline_dashboard_bg.wasm" });
