// Signature pads: draw with a finger (or mouse) on a canvas; on submit the drawing is posted as a PNG data URL
// in the form's hidden `image` field. A pad left blank posts nothing (the server then asks for a signature).
(function () {
  "use strict";
  function setUp(form) {
    var canvas = form.querySelector("canvas.sign-pad");
    var field = form.querySelector("input[data-signature]");
    if (!canvas || !field) { return; }
    var ctx = canvas.getContext("2d");
    var drawn = false, last = null;
    function fit() {
      // Draw in device pixels so the PNG is sharp, but keep the stroke width constant on screen.
      var ratio = window.devicePixelRatio || 1, box = canvas.getBoundingClientRect();
      canvas.width = Math.max(1, Math.round(box.width * ratio));
      canvas.height = Math.max(1, Math.round(box.height * ratio));
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
      drawn = false;
    }
    function point(e) {
      var box = canvas.getBoundingClientRect();
      return { x: e.clientX - box.left, y: e.clientY - box.top };
    }
    canvas.addEventListener("pointerdown", function (e) {
      e.preventDefault(); canvas.setPointerCapture(e.pointerId); last = point(e);
      ctx.beginPath(); ctx.arc(last.x, last.y, 1, 0, 2 * Math.PI); ctx.fill(); drawn = true;
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!last) { return; }
      e.preventDefault();
      var p = point(e);
      ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
      last = p; drawn = true;
    });
    function stop() { last = null; }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    var clear = form.querySelector("[data-clear]");
    if (clear) { clear.addEventListener("click", function (e) { e.preventDefault(); fit(); field.value = ""; }); }
    form.addEventListener("submit", function () { field.value = drawn ? canvas.toDataURL("image/png") : ""; });
    fit();
  }
  document.querySelectorAll("form[data-signature-form]").forEach(setUp);
})();
