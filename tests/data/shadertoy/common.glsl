// Common: shared by every pass of the multipass description (hypna test file).
#define PI 3.14159265
vec3 palette(float t) { return 0.5 + 0.5 * cos(2.0 * PI * (t + vec3(0.0, 0.33, 0.67))); }
